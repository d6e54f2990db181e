package dualws

import "sync"

// recorder collects OnStateChange calls; tests on both platforms compare
// its transitions.
type recorder struct {
	mu  sync.Mutex
	evs []StateChange
}

func (r *recorder) record(ev StateChange) {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
}

// transitions describes each transition as "FROM>TO", followed on the way
// to CLOSING and CLOSED by the code and the clean and remote flags.
func (r *recorder) transitions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ev := range r.evs {
		s := ev.From.String() + ">" + ev.To.String()
		if ev.To >= Closing {
			s += " " + itoa(int(ev.Status.Code))
			if ev.Status.WasClean {
				s += " clean"
			}
			if ev.Status.Remote {
				s += " remote"
			}
		}
		out = append(out, s)
	}
	return out
}
