package scenarios

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dualws/dualws"
)

// The seed matrix: the bug dualws exists for, in every program shape. A
// client dials a server that ends the connection (close 4000 or TCP drop),
// computes without yielding (in the browser this blocks the event loop),
// then sends SeedSends messages. A Send is judged by timestamps: the
// server's (when its close frame was written or TCP closed, see
// testserver/server's /ws/seed) against the send's start on the client's
// wall clock; the two run on the same machine. A send that starts
// SeedMargin or more after the server's end must be refused with the close
// code; Counts[AcceptedAfterClose] counts those accepted.
//
// Each cell is one scenario named seed-PEER-SHAPE-SERVER-Nms, e.g.
// seed-nodews-recv-drop1-50ms.

// SeedPrefix starts the name of every seed matrix cell.
const SeedPrefix = "seed-"

// SeedSends is the number of sends after the computation.
const SeedSends = 5

// AcceptedAfterClose is the Counts key of the sends accepted (Send returned
// nil) that started SeedMargin or more after the server's close or drop.
// Any value above 0 is a broken promise (see Trace.Violations).
const AcceptedAfterClose = "accepted_after_close"

// SeedMargin is how long after the server's end a send must start to be
// judged: it leaves the close frame or FIN time to cross loopback and reach
// the client's process.
const SeedMargin = 3 * time.Millisecond

// seedMargin is SeedMargin; tests set it negative to see the instrument fail.
var seedMargin = SeedMargin

// clockTolerance bounds how far the server's handshake time may lie outside
// the client's Dial call before the run is declared unable to judge: both
// clocks are the machine's wall clock, read through different APIs.
const clockTolerance = 2 * time.Millisecond

// SeedCell is one cell of the seed matrix.
type SeedCell struct {
	// Peer is the server: "go" (testserver/server) or "nodews"
	// (testserver/nodews, the npm ws package).
	Peer string
	// Shape is the client's shape: "send" (send right after Dial, then
	// compute), "recv" (send, Receive the first message, then compute) or
	// "idle" (compute right after Dial).
	Shape string
	// Server is the server's behaviour: "close1" (close 4000 after the
	// first message), "drop1" (drop TCP after it), "closeopen" (close 4000
	// right after the handshake), "burst3" (send 3 messages, then close
	// 4000), "backlog" (send BacklogMessages of BacklogSize bytes, then
	// close 4000: more than Chromium reads ahead of the page) or "queue"
	// (send QueueMessages small messages, then close 4000: more than the
	// native client's receive queue holds).
	Server string
	// Compute is how long the client computes without yielding.
	Compute time.Duration
}

// Seed matrix dimensions, in display order.
var (
	seedPeers    = []string{"go", "nodews"}
	seedShapes   = []string{"send", "recv", "idle"}
	seedServers  = []string{"close1", "drop1", "closeopen", "burst3", "backlog", "queue"}
	seedComputes = []time.Duration{5 * time.Millisecond, 50 * time.Millisecond, 200 * time.Millisecond}
)

// SeedPeers returns the servers of the matrix (SeedCell.Peer), in display
// order.
func SeedPeers() []string { return append([]string(nil), seedPeers...) }

// SeedShapes returns the client shapes (SeedCell.Shape), in display order.
func SeedShapes() []string { return append([]string(nil), seedShapes...) }

// SeedServers returns the server behaviours (SeedCell.Server), in display
// order.
func SeedServers() []string { return append([]string(nil), seedServers...) }

// SeedComputes returns the computation times (SeedCell.Compute), in
// display order.
func SeedComputes() []time.Duration { return append([]time.Duration(nil), seedComputes...) }

// Name returns the cell's scenario name.
func (c SeedCell) Name() string {
	return SeedPrefix + c.Peer + "-" + c.Shape + "-" + c.Server + "-" + strconv.Itoa(int(c.Compute/time.Millisecond)) + "ms"
}

// ParseSeedCell returns the cell that name denotes, if it is one.
func ParseSeedCell(name string) (SeedCell, bool) {
	for _, c := range seedCells() {
		if c.Name() == name {
			return c, true
		}
	}
	return SeedCell{}, false
}

func seedCells() []SeedCell {
	var cells []SeedCell
	for _, p := range seedPeers {
		for _, sh := range seedShapes {
			for _, sv := range seedServers {
				for _, d := range seedComputes {
					cells = append(cells, SeedCell{Peer: p, Shape: sh, Server: sv, Compute: d})
				}
			}
		}
	}
	return cells
}

func seedScenarios() []scenario {
	var ss []scenario
	for _, c := range seedCells() {
		ss = append(ss, scenario{name: c.Name(), desc: c.describe(), fn: c.run})
	}
	return ss
}

// The backlog server's burst: 256 KiB, which Chromium hands to the page
// only as the page takes it (without the yield's drain turns, 20 of 25
// sends 3 ms or more after the close were accepted at 5 ms of
// computation), in fewer messages than the native client's receive queue
// (64), whose reader would otherwise stop.
const (
	BacklogMessages = 8
	BacklogSize     = 32 << 10
)

// QueueMessages is the queue server's burst: three times the native
// client's receive queue (dualws.DefaultReceiveQueue), whose reader stops
// at a full queue, with the close behind it, while the program sends
// without receiving. A browser reads on.
const QueueMessages = 3 * dualws.DefaultReceiveQueue

// params returns /ws/seed's query parameters for the cell.
func (c SeedCell) params() url.Values {
	before, end := c.beforeEnd()
	v := q("before", before, "end", end, "code", "4000", "reason", "seed")
	switch c.Server {
	case "backlog":
		v.Set("n", strconv.Itoa(BacklogMessages))
		v.Set("size", strconv.Itoa(BacklogSize))
	case "queue":
		v.Set("n", strconv.Itoa(QueueMessages))
	}
	return v
}

// beforeEnd returns /ws/seed's before and end parameters for the cell.
func (c SeedCell) beforeEnd() (before, end string) {
	end = "close"
	switch c.Server {
	case "close1", "drop1":
		before = "echo"
		if c.Shape == "idle" {
			before = "push"
		}
		if c.Server == "drop1" {
			end = "drop"
		}
	case "closeopen":
		before = "none"
	case "burst3", "backlog", "queue":
		before = "burst"
	}
	return before, end
}

func (c SeedCell) describe() string {
	peer := "Go testserver"
	if c.Peer == "nodews" {
		peer = "Node ws server"
	}
	var client string
	switch c.Shape {
	case "send":
		client = `the client sends "first" right after Dial`
	case "recv":
		client = `the client sends "first" and Receives a message`
	case "idle":
		client = "the client sends nothing"
	}
	client += fmt.Sprintf(", computes %d ms without yielding, then sends %d", c.Compute/time.Millisecond, SeedSends)
	var server string
	switch c.Server {
	case "close1", "drop1":
		how := "closes 4000"
		if c.Server == "drop1" {
			how = "drops TCP"
		}
		if c.Shape == "idle" {
			server = `the server sends "first" itself, then ` + how + ` (no client message to wait for: the closest is a message before the end)`
		} else {
			server = "the server echoes the first message, then " + how
		}
	case "closeopen":
		server = "the server closes 4000 right after the handshake"
		switch c.Shape {
		case "send":
			server += ` (the send of "first" races the close and is judged like the others)`
		case "recv":
			server += " (Receive returns the close: there is no echo)"
		}
	case "burst3":
		server = `the server sends "1", "2", "3", then closes 4000`
		if c.Shape == "recv" {
			server += ` (Receive gets "1": there is no echo)`
		}
	case "backlog", "queue":
		server = fmt.Sprintf("the server sends %d messages of %d KiB, then closes 4000", BacklogMessages, BacklogSize>>10)
		if c.Server == "queue" {
			server = fmt.Sprintf("the server sends %d small messages, more than the native receive queue holds, then closes 4000", QueueMessages)
		}
		if c.Shape == "recv" {
			server += " (Receive gets the first: there is no echo)"
		}
	}
	return peer + ": " + client + "; " + server + "; sends starting 3 ms or more after the server's end must all be refused"
}

type timedSend struct {
	label string
	start int64 // Unix ns, client's wall clock
	err   error
}

// seedAttempts bounds the attempts of a cell whose sends all started within
// the margin (a server slower than the computation): such an attempt
// measured nothing and is made again. An attempt that judged a send, or
// saw the close decided before the margin, is never repeated.
const seedAttempts = 5

func (c SeedCell) run(ctx context.Context, r *run) {
	for attempt := 1; ; attempt++ {
		judged := c.attempt(ctx, r, attempt == seedAttempts)
		if judged != 0 || attempt == seedAttempts || ctx.Err() != nil {
			if attempt > 1 {
				r.note("attempts", strconv.Itoa(attempt))
			}
			return
		}
		r.reset()
	}
}

// attempt runs the cell once and returns how many sends it judged (1 when
// the client decided the close before the margin ran out: judgeSends), -1
// when it could not run. last says whether a failure to judge any send is final.
func (c SeedCell) attempt(ctx context.Context, r *run, last bool) int {
	base := r.cfg.BaseURL
	if c.Peer == "nodews" {
		base = r.cfg.NodeWSURL
		if base == "" {
			r.fail("no Node ws server: Config.NodeWSURL is empty")
			return -1
		}
	}
	_, end := c.beforeEnd()
	dialStart := wallNow()
	cl := r.dialURL(ctx, r.urlAt(base, "/ws/seed", c.params()), dualws.Options{})
	dialEnd := wallNow()
	if cl == nil {
		return -1
	}
	sends := make([]timedSend, 0, SeedSends+1)
	send := func(label string) {
		start := wallNow()
		err := cl.Send(ctx, dualws.Text, []byte(label))
		sends = append(sends, timedSend{label, start, err})
	}
	if c.Shape != "idle" {
		send("first")
	}
	if c.Shape == "recv" {
		r.receive(ctx, cl)
	}
	busy(c.Compute)
	for i := range SeedSends {
		send("after " + strconv.Itoa(i))
	}
	r.receiveAll(ctx, cl)
	if !r.waitDone(ctx, cl) {
		return -1
	}
	r.close(cl, dualws.StatusNormalClosure, "")

	o, err := r.observedUntil(ctx, base, 2*time.Second, func(o observation) bool { return o.EndedAt != 0 })
	switch {
	case err != nil:
		r.fail(err.Error())
		return -1
	case o.EndedAt == 0:
		r.fail("the server recorded no end of the connection")
		return -1
	case o.Ended != end:
		r.fail("the server ended with " + strconv.Quote(o.Ended) + ", not " + end)
		return -1
	case o.OpenedAt < dialStart-clockTolerance.Nanoseconds() || o.OpenedAt > dialEnd+clockTolerance.Nanoseconds():
		r.fail(fmt.Sprintf("clocks disagree: the server wrote its handshake %+.2f ms after the client's Dial started, which took %.2f ms",
			nsMS(o.OpenedAt-dialStart), nsMS(dialEnd-dialStart)))
		return -1
	}
	accepted, judged, ref, detail, early := judgeSends(sends, o.EndedAt, seedMargin)
	r.count(AcceptedAfterClose, accepted)
	r.fact("judged_sends_refused_with", ref)
	r.note("server_end", o.Ended)
	r.note("timeline", fmt.Sprintf("from the Dial call: server's handshake %+.1fms, Dial returned %+.1fms, server's %s %+.1fms",
		nsMS(o.OpenedAt-dialStart), nsMS(dialEnd-dialStart), o.Ended, nsMS(o.EndedAt-dialStart)))
	r.note("sends_judged", strconv.Itoa(judged))
	r.note("sends_vs_server_end", detail)
	if early {
		r.note("decided_before_the_margin", "true")
		return 1
	}
	if judged == 0 && last {
		r.fail(fmt.Sprintf("no send started %v or more after the server's end in %d attempts: the cell measured nothing", seedMargin, seedAttempts))
	}
	return judged
}

// judgeSends judges sends against the server's end (Unix ns): those that
// started margin or more after it are judged; it returns how many of them
// were accepted, how many were judged, the distinct outcomes of the refused
// ones ("none" when none was refused) and every send's start relative to
// the end with its outcome.
//
// When none started that late but the last was refused with a close code,
// the client had decided the close before the margin ran out: every later
// Send would be refused too (a decided status never changes: the machine's
// exhaustive test), so the attempt has measured what it came for.
// decidedEarly reports that, and refusedWith is then the last's outcome.
// (In WebKit the 5 ms send-shape cell often ends so: its first message
// reaches the server some 13 ms after the Dial, and the sends after the
// computation wait in their yield until the close arrives.)
func judgeSends(sends []timedSend, endedAt int64, margin time.Duration) (accepted, judged int, refusedWith, detail string, decidedEarly bool) {
	limit := endedAt + margin.Nanoseconds()
	refused := map[string]bool{}
	var d []string
	for _, s := range sends {
		outcome := sendOutcome(s.err)
		if s.start >= limit {
			judged++
			if s.err == nil {
				accepted++
			} else {
				refused[outcome] = true
			}
		}
		d = append(d, fmt.Sprintf("%s@%+.1fms:%s", strings.ReplaceAll(s.label, " ", ""), nsMS(s.start-endedAt), outcome))
	}
	refusedWith = strings.Join(sortedKeys(refused), ",")
	if refusedWith == "" {
		refusedWith = "none"
	}
	if judged == 0 && len(sends) > 0 {
		if last := sendOutcome(sends[len(sends)-1].err); strings.HasPrefix(last, "close ") {
			refusedWith, decidedEarly = last, true
		}
	}
	return accepted, judged, refusedWith, strings.Join(d, " "), decidedEarly
}

// sendOutcome is a Send error as a short word: "ok", "close 4000", ...
func sendOutcome(err error) string {
	o := opOf("send", "", err)
	if o.Code != 0 {
		return o.Result + " " + strconv.Itoa(o.Code)
	}
	return o.Result
}

func nsMS(ns int64) float64 { return float64(ns) / 1e6 }
