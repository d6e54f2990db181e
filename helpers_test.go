package dualws

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

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

func TestItoaAndQuote(t *testing.T) {
	for _, c := range []struct {
		in   int
		want string
	}{{0, "0"}, {7, "7"}, {1006, "1006"}, {-42, "-42"}, {4999, "4999"}} {
		if got := itoa(c.in); got != c.want {
			t.Errorf("itoa(%d) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"", `""`},
		{"bye", `"bye"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"tab\there\x7f", `"tab\x09here\x7f"`},
		{"é ✓", `"é ✓"`},
	} {
		if got := quote(c.in); got != c.want {
			t.Errorf("quote(%q) = %s, want %s", c.in, got, c.want)
		}
	}
	if got := quote(string(make([]byte, 300))); len(got) != 200*4+2+3 {
		t.Errorf("quote of 300 NULs has length %d, want it cut at 200 bytes", len(got))
	}
}

// sendUntilClosed runs senders goroutines that each send until Send fails,
// and returns the close codes of the failures and any failure that was not
// a *CloseError.
func sendUntilClosed(c *Client, senders int) (codes []StatusCode, others []error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range senders {
		wg.Go(func() {
			for i := 0; i < 1_000_000; i++ {
				err := c.SendText(context.Background(), "m")
				if err == nil {
					continue
				}
				mu.Lock()
				defer mu.Unlock()
				if ce, ok := errors.AsType[*CloseError](err); ok {
					codes = append(codes, ce.Status.Code)
				} else {
					others = append(others, err)
				}
				return
			}
		})
	}
	wg.Wait()
	return codes, others
}

// dial opens a client whose transitions are recorded and closes it when
// the test ends.
func dial(t *testing.T, url string, opts *Options) (*Client, *recorder) {
	t.Helper()
	rec := &recorder{}
	if opts == nil {
		opts = &Options{}
	}
	opts.OnStateChange = rec.record
	c, err := Dial(context.Background(), url, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close(StatusNormalClosure, "") })
	return c, rec
}

func waitDone(t *testing.T, c *Client) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("client did not reach CLOSED")
	}
}

func TestClosedBy(t *testing.T) {
	for _, c := range []struct {
		st   CloseStatus
		want string
	}{
		{CloseStatus{Code: 4000, Remote: true, WasClean: true}, "server"},
		{CloseStatus{Code: StatusAbnormalClosure, Remote: true}, "network"},
		{CloseStatus{Code: StatusNormalClosure, WasClean: true}, "client"},
		{CloseStatus{Code: StatusAbnormalClosure, Reason: "keepalive timeout"}, "client"},
	} {
		if got := c.st.ClosedBy(); got != c.want {
			t.Errorf("%+v.ClosedBy() = %q, want %q", c.st, got, c.want)
		}
	}
}
