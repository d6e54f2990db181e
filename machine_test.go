package dualws

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// The machine is tested without sockets, as python websockets tests its
// protocol: inputs in, the exact output and state after each one.

// machineInput is one input with a name for failure messages.
type machineInput struct {
	name string
	feed func(m *machine)
}

// machineInputs is the alphabet the exhaustive walk and the fuzz target use:
// every input, with representative arguments.
var machineInputs = []machineInput{
	{"opened", (*machine).opened},
	{"dialFailed", (*machine).dialFailed},
	{"message(a)", func(m *machine) { m.message(Text, []byte("a")) }},
	{"message(bbb)", func(m *machine) { m.message(Binary, []byte("bbb")) }},
	{"alive(a heartbeat reply)", (*machine).alive}, // kept at this index for the fuzz corpus
	{"receive", func(m *machine) { m.receive() }},
	{"peerClose(4000)", func(m *machine) { m.peerClose(4000, "bye") }},
	{"closeEvent(4001,clean)", func(m *machine) { m.closeEvent(4001, "x", true) }},
	{"closeEvent(1006)", func(m *machine) { m.closeEvent(StatusAbnormalClosure, "", false) }},
	{"closeEvent(999,clean)", func(m *machine) { m.closeEvent(999, "x", true) }},
	{"close(1000)", func(m *machine) { m.closeWith(CloseStatus{Code: 1000}) }},
	{"tooBig", (*machine).tooBig},
	{"invalidText", (*machine).invalidText},
	{"keepaliveTimeout", (*machine).keepaliveTimeout},
	{"sendInterrupted", (*machine).sendInterrupted},
	{"statusOverdue", (*machine).statusOverdue},
	{"sendFailed", (*machine).sendFailed},
	{"handedBack", (*machine).handedBack},
	{"lost", (*machine).lost},
	{"alive", (*machine).alive},
	{"heartbeatFired", (*machine).heartbeatFired},
	{"closeTimerFired", (*machine).closeTimerFired},
	{"transportGone(clean)", func(m *machine) { m.transportGone(true) }},
	{"transportGone(unclean)", func(m *machine) { m.transportGone(false) }},
	{"sendLooked", (*machine).sendLooked}, // last: the fuzz corpus's indexes stay
}

// machineConfigs are the native (can pause) and browser (cannot) shapes,
// with small limits so that pausing and overflowing are reached quickly.
var machineConfigs = map[string]machineConfig{
	"native": {receiveQueue: 2, receiveQueueBytes: 4 + 2*queuedMessageCost, canPause: true,
		heartbeat: &Heartbeat{Interval: time.Second, Timeout: 2 * time.Second}},
	"browser": {receiveQueue: 2, receiveQueueBytes: 4 + 2*queuedMessageCost, canPause: false, scriptCodes: true,
		heartbeat: &Heartbeat{Interval: time.Second, Timeout: 2 * time.Second}},
	"plain": {receiveQueue: 64, receiveQueueBytes: 1 << 20, canPause: true},
}

// model is what the test knows from the outside: the inputs fed and the
// outputs seen. The invariants compare it with the machine.
type model struct {
	state       State
	frameSent   bool // an output asked for a close frame
	frameRecv   bool // a close frame from the peer was fed before CLOSED
	failedFirst bool // the status was decided while the state stayed OPEN
	decided     bool // a status was decided
	status      CloseStatus
	final       CloseStatus
	queue       string // messages accepted and not yet received, one byte each ("a" or "b")
	paused      bool
	sendFailed  bool // sendFailed was fed: reading must not pause any more
	handedBack  bool // handedBack was fed: reading must pause only at the byte bound
	sendLooked  bool // sendLooked was fed, and no receive since: the same
	closeArmed  bool
	closed      int // transitions to CLOSED seen
}

// snapshot is a comparable picture of the machine and the model, so that
// the walk visits each (snapshot, depth) once.
type snapshot struct {
	state                                              State
	status, final                                      CloseStatus
	decided, failed, timedOut, closeRecv, paused, beat bool
	heard, sendGone                                    bool
	countOff                                           uint8
	bytes                                              int
	mdl                                                model
}

// snap leaves the machine's queue to the model's, which step has checked
// equal to it.
func snap(m *machine, mdl model) snapshot {
	return snapshot{m.state, m.status, m.final, m.decided, m.failed, m.timedOut, m.closeRecv, m.paused, m.beatSent, m.heard, m.sendGone, m.countOff, m.bytes, mdl}
}

// queueIs reports whether m's queue holds messages starting with the
// bytes of want, in order.
func queueIs(m *machine, want string) bool {
	q := m.queue[m.head:]
	if len(q) != len(want) {
		return false
	}
	for i, msg := range q {
		if msg.data[0] != want[i] {
			return false
		}
	}
	return true
}

func cloneMachine(m *machine) machine {
	c := *m
	c.queue = append([]message(nil), m.queue...)
	return c
}

// step feeds in to m, checks every invariant against the model, and returns
// the updated model, or a description of the broken invariant.
func step(m *machine, mdl model, in machineInput) (model, string) {
	before := mdl
	wasOpen := m.state == Open
	isPeerFrame := strings.HasPrefix(in.name, "peerClose") || in.name == "closeEvent(4001,clean)"
	isMessage := strings.HasPrefix(in.name, "message")
	var received message
	var gotMessage bool
	if in.name == "receive" {
		received, gotMessage = m.receive()
	} else {
		in.feed(m)
	}
	o := m.take()

	// Every transition is reported once, in order, and states only move
	// forward.
	for i := 0; i < o.ntrans; i++ {
		tr := o.trans[i]
		if tr.from != mdl.state {
			return mdl, fmt.Sprintf("transition %v>%v reported from %v", tr.from, tr.to, mdl.state)
		}
		if tr.to <= tr.from {
			return mdl, fmt.Sprintf("state moved backwards or stood: %v>%v", tr.from, tr.to)
		}
		mdl.state = tr.to
		if tr.to == Closed {
			mdl.closed++
			mdl.final = tr.status
		}
	}
	if mdl.state != m.state {
		return mdl, fmt.Sprintf("state is %v but the reported transitions lead to %v", m.state, mdl.state)
	}
	// CLOSED happens once, and Done (output.final) only with it.
	if mdl.closed > 1 {
		return mdl, "CLOSED reported twice"
	}
	reachedClosed := before.state != Closed && mdl.state == Closed
	if o.final != reachedClosed {
		return mdl, fmt.Sprintf("final output %v, but CLOSED reached in this step: %v", o.final, reachedClosed)
	}
	// After CLOSED nothing reaches the transport or a timer.
	if before.state == Closed && (o.sendClose || o.abort || o.armClose || o.armHeartbeat != 0 || o.sendHeartbeat || o.ntrans > 0 || o.decided) {
		return mdl, fmt.Sprintf("output after CLOSED: %+v", o)
	}

	// The status: decided once, never changed; the final one set once.
	if o.decided {
		if mdl.decided {
			return mdl, "status decided twice"
		}
		mdl.decided, mdl.status = true, m.status
		if m.state == Open {
			mdl.failedFirst = true
		}
	}
	if mdl.decided != m.decided || (mdl.decided && mdl.status != m.status) {
		return mdl, fmt.Sprintf("decided status changed: model %v %+v, machine %v %+v", mdl.decided, mdl.status, m.decided, m.status)
	}
	if st, ok := m.currentStatus(); mdl.state == Closed && (!ok || st != mdl.final) {
		return mdl, fmt.Sprintf("final status %+v, CloseStatus reports %+v", mdl.final, st)
	}
	if mdl.state >= Closing && !mdl.decided {
		return mdl, "CLOSING or CLOSED without a decided status"
	}

	// Once decided, Send is refused and nothing new is queued.
	if m.sendAllowed() != (mdl.state == Open && !mdl.decided) {
		return mdl, fmt.Sprintf("sendAllowed %v in %v with decided %v", m.sendAllowed(), mdl.state, mdl.decided)
	}
	if isMessage && before.decided && o.queued {
		return mdl, "a message was queued after the status was decided"
	}

	// Close frames: CLOSING iff one was sent or received, unless the
	// connection failed first (then no CLOSING at all).
	if o.sendClose {
		mdl.frameSent = true
	}
	if isPeerFrame && (before.state == Open || before.state == Closing) {
		mdl.frameRecv = true
	}
	if o.sendClose && o.frame.Code == 0 {
		return mdl, "close frame without a code"
	}
	switch mdl.state {
	case Closing:
		if !mdl.frameSent && !mdl.frameRecv {
			return mdl, "CLOSING without a close frame"
		}
		if mdl.failedFirst {
			return mdl, "CLOSING after the connection failed"
		}
	case Open:
		if (mdl.frameSent || mdl.frameRecv) && !mdl.failedFirst {
			return mdl, "still OPEN after a close frame"
		}
	}
	if before.state == Open && mdl.state == Closing && !(o.sendClose || isPeerFrame) {
		return mdl, "CLOSING without a close frame in this step"
	}
	// The native reader waits, before closing the socket, for a handshake
	// the client asked for: closeFrameRequested says so exactly while
	// CLOSING after a close frame of ours was requested.
	if want := mdl.state == Closing && mdl.frameSent; m.closeFrameRequested() != want {
		return mdl, fmt.Sprintf("closeFrameRequested %v in %v, frame of ours requested %v", !want, mdl.state, mdl.frameSent)
	}

	// The close timer is armed only for a handshake the client started, or
	// a failure that sent a frame.
	if o.armClose {
		if !o.sendClose {
			return mdl, "close timer armed without a close frame"
		}
		mdl.closeArmed = true
	}
	if o.abort && !mdl.decided {
		return mdl, "abort without a decided status"
	}

	// Messages: accepted ones come out in order; the peer's are
	// discarded once decided; heartbeat replies are consumed.
	if isMessage && o.queued {
		if !wasOpen || before.decided {
			return mdl, "message queued while not OPEN or after the status was decided"
		}
		mdl.queue += in.name[len("message(") : len("message(")+1]
	}
	if gotMessage {
		if mdl.queue == "" || received.data[0] != mdl.queue[0] {
			return mdl, fmt.Sprintf("received %q, expected the head of %q", received.data, mdl.queue)
		}
		mdl.queue = mdl.queue[1:]
	} else if in.name == "receive" && mdl.queue != "" {
		return mdl, "receive found nothing while messages wait"
	}
	if !queueIs(m, mdl.queue) {
		var q strings.Builder
		for _, msg := range m.queue[m.head:] {
			q.WriteByte(msg.data[0])
		}
		return mdl, fmt.Sprintf("queue %q, expected %q", q.String(), mdl.queue)
	}

	// Pause and resume alternate, and only where the transport can pause.
	if o.pause {
		if mdl.paused || !m.cfg.canPause {
			return mdl, "pause while paused or on a transport that cannot pause"
		}
		mdl.paused = true
	}
	if o.resume {
		if !mdl.paused {
			return mdl, "resume while not paused"
		}
		mdl.paused = false
	}
	if mdl.paused != m.paused {
		return mdl, "paused flag differs from the pause and resume outputs"
	}
	if mdl.paused && mdl.state == Closed {
		return mdl, "still paused at CLOSED: the reader would never end"
	}
	// After a failed Send only the reader can bring the status: it must
	// not stay paused on a full queue.
	if in.name == "sendFailed" {
		mdl.sendFailed = true
	}
	if mdl.sendFailed && mdl.paused {
		return mdl, "reading paused after a Send failed: the status waits on the reader"
	}
	// Once the client is handed back, the reader must reach the close
	// with no Receive while the queue holds less than receiveQueueBytes:
	// it pauses only at the byte bound (still backpressure).
	if in.name == "handedBack" {
		mdl.handedBack = true
	}
	if mdl.handedBack && mdl.paused && m.bytes < m.cfg.receiveQueueBytes {
		return mdl, fmt.Sprintf("reading paused at %d messages, %d bytes, after the client was handed back: the close would never be read", m.queueLen(), m.bytes)
	}
	// A Send that looked for a close lifts the count until the next
	// receive, and no longer: the count bounds a program that receives.
	switch in.name {
	case "sendLooked":
		mdl.sendLooked = true
	case "receive":
		mdl.sendLooked = false
	}
	if mdl.sendLooked && mdl.paused && m.bytes < m.cfg.receiveQueueBytes {
		return mdl, fmt.Sprintf("reading paused at %d messages, %d bytes, after a Send looked and before a receive", m.queueLen(), m.bytes)
	}
	if !mdl.handedBack && !mdl.sendLooked && !mdl.sendFailed && m.cfg.canPause && m.state == Open && !m.decided && !mdl.paused && m.queueLen() > m.cfg.receiveQueue {
		return mdl, fmt.Sprintf("%d messages queued, over the count of %d, with nothing lifting it", m.queueLen(), m.cfg.receiveQueue)
	}
	return mdl, ""
}

type walk struct {
	cfgName string
	seen    map[snapshot]int // the most inputs walked from each snapshot
	visits  int
	path    []string // the inputs fed to reach the machine being explored
}

// explore feeds every sequence of up to depth inputs from m. A snapshot
// already walked as deep or deeper is not walked again: those sequences
// are among the ones walked then.
func (w *walk) explore(t *testing.T, m *machine, mdl model, depth int) {
	if depth == 0 {
		return
	}
	key := snap(m, mdl)
	if w.seen[key] >= depth {
		return
	}
	w.seen[key] = depth
	for _, in := range machineInputs {
		if in.name == "message(a)" || in.name == "message(bbb)" {
			if m.queueLen() >= 3 { // keep the reachable set finite
				continue
			}
		}
		next := cloneMachine(m)
		w.visits++
		nmdl, broken := step(&next, mdl, in)
		if broken != "" {
			t.Fatalf("%s: after %v then %s: %s", w.cfgName, w.path, in.name, broken)
		}
		w.path = append(w.path, in.name)
		w.explore(t, &next, nmdl, depth-1)
		w.path = w.path[:len(w.path)-1]
	}
}

// TestMachineExhaustive walks every sequence of up to 6 inputs from every
// reachable state and checks the invariants after each input.
func TestMachineExhaustive(t *testing.T) {
	t.Parallel() // the longest test of the package: beside the tests that wait
	for name, cfg := range machineConfigs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// Find every reachable state (bounded queue), then walk 6 inputs
			// from each.
			type node struct {
				m    machine
				mdl  model
				path []string
			}
			start := newMachine(cfg)
			frontier := []node{{m: start}}
			reached := map[snapshot]bool{snap(&start, model{}): true}
			var all []node
			for len(frontier) > 0 {
				n := frontier[0]
				frontier = frontier[1:]
				all = append(all, n)
				for _, in := range machineInputs {
					if strings.HasPrefix(in.name, "message") && n.m.queueLen() >= 3 {
						continue
					}
					next := cloneMachine(&n.m)
					nmdl, broken := step(&next, n.mdl, in)
					if broken != "" {
						t.Fatalf("after %v then %s: %s", n.path, in.name, broken)
					}
					s := snap(&next, nmdl)
					if !reached[s] {
						reached[s] = true
						frontier = append(frontier, node{next, nmdl, append(n.path[:len(n.path):len(n.path)], in.name)})
					}
				}
			}
			w := &walk{cfgName: name, seen: map[snapshot]int{}}
			// The last states found first: their successors, found after
			// them, have mostly been walked 6 deep already.
			for i := len(all) - 1; i >= 0; i-- {
				w.path = append(w.path[:0], all[i].path...)
				w.explore(t, &all[i].m, all[i].mdl, 6)
			}
			t.Logf("%d reachable states, %d inputs fed", len(all), w.visits)
			if len(all) < 20 {
				t.Fatalf("only %d reachable states: the walk is not exploring", len(all))
			}
		})
	}
}

// FuzzMachine feeds random input sequences: the first byte picks the
// configuration, each further byte an input.
func FuzzMachine(f *testing.F) {
	f.Add([]byte{0, 0, 2, 2, 2, 5, 6, 19})
	f.Add([]byte{1, 0, 3, 3, 5, 9, 18, 20})
	f.Add([]byte{2, 0, 17, 17, 17, 20})
	names := []string{"native", "browser", "plain"}
	f.Fuzz(func(t *testing.T, seq []byte) {
		if len(seq) == 0 {
			return
		}
		m := newMachine(machineConfigs[names[int(seq[0])%len(names)]])
		var mdl model
		var path []string
		for _, b := range seq[1:] {
			in := machineInputs[int(b)%len(machineInputs)]
			path = append(path, in.name)
			var broken string
			if mdl, broken = step(&m, mdl, in); broken != "" {
				t.Fatalf("after %v: %s", path, broken)
			}
		}
	})
}

// The exact outputs of the main paths, input by input.

func TestMachinePeerCloseThenTransportGone(t *testing.T) {
	m := newMachine(machineConfigs["plain"])
	m.opened()
	if o := m.take(); o.ntrans != 1 || !o.trans[0].is(Connecting, Open, CloseStatus{}) {
		t.Fatalf("opened: %+v", o)
	}
	m.message(Text, []byte("hi"))
	if o := m.take(); !o.queued || o.pause {
		t.Fatalf("message: %+v", o)
	}
	m.peerClose(4000, "bye")
	want := CloseStatus{Code: 4000, Reason: "bye", Remote: true}
	if o := m.take(); o.ntrans != 1 || !o.trans[0].is(Open, Closing, want) || !o.decided || o.sendClose || o.armClose {
		t.Fatalf("peerClose: %+v", o)
	}
	if m.sendAllowed() {
		t.Fatal("Send allowed after the peer's close")
	}
	m.message(Text, []byte("late"))
	if o := m.take(); o.queued || m.queueLen() != 1 {
		t.Fatalf("a message after the close was queued: %+v", o)
	}
	m.transportGone(true)
	want.WasClean = true
	if o := m.take(); o.ntrans != 1 || !o.trans[0].is(Closing, Closed, want) || !o.final {
		t.Fatalf("transportGone: %+v", o)
	}
	if msg, ok := m.receive(); !ok || string(msg.data) != "hi" {
		t.Fatal("the message before the close is not readable after CLOSED")
	}
}

func TestMachineCloseTimeout(t *testing.T) {
	m := newMachine(machineConfigs["plain"])
	m.opened()
	m.take()
	m.closeWith(CloseStatus{Code: 1000})
	if o := m.take(); !o.sendClose || !o.frame.is(1000, "") || !o.armClose || !o.decided || o.trans[0].to != Closing {
		t.Fatalf("close: %+v", o)
	}
	m.closeTimerFired()
	if o := m.take(); !o.abort || o.ntrans != 0 {
		t.Fatalf("close timer: %+v", o)
	}
	m.transportGone(false)
	if o := m.take(); o.trans[0].status != statusCloseTimeout {
		t.Fatalf("after the timeout: %+v", o)
	}
}

// Once the peer's answer has come, the close timer changes nothing: only
// the peer's end of TCP is awaited, which the driver bounds (natively, the
// timer fired while the client waited for a server that keeps TCP open,
// and an answered close was reported as a close timeout).
func TestMachineCloseTimerAfterTheAnswer(t *testing.T) {
	m := newMachine(machineConfigs["plain"])
	m.opened()
	m.closeWith(CloseStatus{Code: 1000})
	m.take()
	m.peerClose(1000, "")
	m.take()
	m.closeTimerFired()
	if o := m.take(); o.abort || o.ntrans != 0 {
		t.Fatalf("close timer after the answer: %+v", o)
	}
	m.transportGone(true)
	if o := m.take(); o.ntrans != 1 || o.trans[0].status != (CloseStatus{Code: 1000, WasClean: true}) {
		t.Fatalf("after the answer and the end of TCP: %+v", o)
	}
}

// A failure decides the status at once (Send is refused) but the state
// goes OPEN → CLOSED only once the transport is gone, with no CLOSING.
func TestMachineFailureRefusesSendAtOnce(t *testing.T) {
	for _, c := range []struct {
		name  string
		feed  func(*machine)
		want  CloseStatus
		abort bool
		frame closeFrame
	}{
		{"invalidText", (*machine).invalidText, statusDropped, false, frameInvalidText},
		{"keepaliveTimeout", (*machine).keepaliveTimeout, statusKeepalive, true, closeFrame{}},
		{"sendInterrupted", (*machine).sendInterrupted, statusSendInterrupted, true, closeFrame{}},
		{"lost", (*machine).lost, statusDropped, false, closeFrame{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := newMachine(machineConfigs["plain"])
			m.opened()
			m.take()
			c.feed(&m)
			o := m.take()
			if !o.decided || o.ntrans != 0 || o.abort != c.abort || !o.frame.is(c.frame.Code, c.frame.Reason) {
				t.Fatalf("output %+v", o)
			}
			if m.sendAllowed() || m.state != Open {
				t.Fatalf("sendAllowed %v in %v", m.sendAllowed(), m.state)
			}
			m.transportGone(true)
			if o := m.take(); !o.trans[0].is(Open, Closed, c.want) {
				t.Fatalf("CLOSED with %+v", o.trans[0])
			}
			if c.want.Remote != (c.name == "invalidText" || c.name == "lost") {
				t.Fatalf("Remote %v for a status the client decided", c.want.Remote)
			}
		})
	}
}

// Native backpressure: a full queue pauses reading, a Receive resumes it.
func TestMachineBackpressure(t *testing.T) {
	m := newMachine(machineConfig{receiveQueue: 2, receiveQueueBytes: 100, canPause: true})
	m.opened()
	m.take()
	m.message(Text, []byte("1"))
	if o := m.take(); o.pause {
		t.Fatal("paused with room in the queue")
	}
	m.message(Text, []byte("2"))
	if o := m.take(); !o.pause {
		t.Fatal("not paused with a full queue")
	}
	m.peerClose(4001, "")
	if o := m.take(); o.resume {
		t.Fatal("resumed by the close: the reader is the one that saw it, so it was not paused")
	}
	m.receive()
	if o := m.take(); !o.resume {
		t.Fatal("a Receive that makes room does not resume reading")
	}
}

// A Send's look lifts the count until the next receive, and no longer
// (a program that receives, slowly, keeps its backpressure); Redial's
// hand-back lifts it for good.
func TestMachineSendLookedLiftsTheCountUntilAReceive(t *testing.T) {
	for _, forGood := range []bool{false, true} {
		m := newMachine(machineConfig{receiveQueue: 2, receiveQueueBytes: 1 << 20, canPause: true})
		m.opened()
		m.message(Text, []byte("1"))
		m.message(Text, []byte("2"))
		if o := m.take(); !o.pause {
			t.Fatal("not paused at the count")
		}
		if forGood {
			m.handedBack()
		} else {
			m.sendLooked()
		}
		if o := m.take(); !o.resume {
			t.Fatal("the lift did not resume reading")
		}
		for i := range 3 {
			m.message(Text, []byte{'3' + byte(i)})
		}
		if o := m.take(); o.pause {
			t.Fatalf("paused at %d messages with the count lifted (for good %v)", m.queueLen(), forGood)
		}
		m.receive()
		m.message(Text, []byte("6"))
		if o := m.take(); o.pause == forGood {
			t.Fatalf("after a receive, paused %v at %d messages (for good %v)", o.pause, m.queueLen(), forGood)
		}
	}
}

// An emptied queue keeps its array only up to queueKeepCap slots: a burst
// does not hold its array for the connection's life.
func TestMachineQueueLetsABurstsArrayGo(t *testing.T) {
	m := newMachine(machineConfig{receiveQueue: 64, receiveQueueBytes: 1 << 30, canPause: false})
	m.opened()
	for _, n := range []int{queueKeepCap * 3, 100} {
		for range n {
			m.message(Binary, nil)
		}
		for range n {
			if _, ok := m.receive(); !ok {
				t.Fatal("a queued message is missing")
			}
		}
		if c := cap(m.queue); c > queueKeepCap || n <= queueKeepCap && c == 0 {
			t.Fatalf("after %d messages taken, the queue keeps %d slots", n, c)
		}
	}
}

// Byte bound: natively it pauses; in the browser it closes with 1008 and
// keeps what was queued readable.
func TestMachineReceiveQueueBytes(t *testing.T) {
	m := newMachine(machineConfig{receiveQueue: 64, receiveQueueBytes: 10 + queuedMessageCost, canPause: true})
	m.opened()
	m.take()
	m.message(Binary, make([]byte, 10))
	if o := m.take(); !o.pause {
		t.Fatal("native: not paused at the byte bound")
	}
	b := newMachine(machineConfig{receiveQueue: 1, receiveQueueBytes: 10 + queuedMessageCost, canPause: false})
	b.opened()
	b.take()
	b.message(Binary, make([]byte, 10))
	if o := b.take(); o.pause || o.decided {
		t.Fatalf("browser: acted at the bound, not past it: %+v", o)
	}
	b.message(Binary, nil) // an empty message counts too
	o := b.take()
	if !o.decided || !o.sendClose || !o.frame.is(StatusPolicyViolation, "receive queue overflow") || o.trans[0].status.Remote {
		t.Fatalf("browser overflow: %+v", o)
	}
	if b.queueLen() != 2 {
		t.Fatalf("%d messages readable after the overflow, want 2", b.queueLen())
	}
	// A browser script may not send 1008 or 1009: the frame carries 4008
	// and 4009, the status keeps the real code.
	for _, c := range []struct {
		feed func(*machine)
		st   CloseStatus
		wire StatusCode
	}{
		{func(m *machine) { m.message(Binary, make([]byte, 11+queuedMessageCost)) }, statusOverflow, 4008},
		{(*machine).tooBig, statusTooBig, 4009},
		{func(m *machine) { m.closeWith(CloseStatus{Code: 4321}) }, CloseStatus{Code: 4321}, 4321},
	} {
		s := newMachine(machineConfig{receiveQueue: 1, receiveQueueBytes: 10, scriptCodes: true})
		s.opened()
		s.take()
		c.feed(&s)
		if o := s.take(); o.frame.Code != c.wire || o.trans[0].status != c.st {
			t.Errorf("script codes: frame %v, status %+v; want %v, %+v", o.frame.Code, o.trans[0].status, c.wire, c.st)
		}
	}
}

// TestMachineEmptyMessagesAreBounded: each waiting message counts its slot
// in the queue besides its payload, so a peer's empty messages reach the
// byte bound too (in the browser, which cannot pause, the only bound).
func TestMachineEmptyMessagesAreBounded(t *testing.T) {
	b := newMachine(machineConfig{receiveQueue: 1, receiveQueueBytes: 1000, canPause: false})
	b.opened()
	b.take()
	n := 0
	for ; n < 20000 && !b.decided; n++ {
		b.message(Text, nil)
	}
	if !b.decided || b.status != statusOverflow || n != 1000/queuedMessageCost+1 {
		t.Fatalf("after %d empty messages: decided %v, status %+v; want the overflow at message %d", n, b.decided, b.status, 1000/queuedMessageCost+1)
	}
	for b.queueLen() > 0 {
		b.receive()
	}
	if b.bytes != 0 {
		t.Fatalf("%d bytes counted with the queue empty", b.bytes)
	}
}

// TestMachineCloseEventWithACodeThePeerMayNotSend: a browser's close event
// with a code no peer may send (Chromium and Firefox report 999, 2999 and
// 5000 as clean closes) is the failed connection it is natively and in
// WebKit: CLOSED 1006, remote, not clean, with no CLOSING.
func TestMachineCloseEventWithACodeThePeerMayNotSend(t *testing.T) {
	for _, code := range []StatusCode{999, 1004, 1015, 1016, 2999, 5000} {
		m := newMachine(machineConfigs["browser"])
		m.opened()
		m.take()
		m.closeEvent(code, "bye", true)
		o := m.take()
		if o.ntrans != 1 || !o.trans[0].is(Open, Closed, statusDropped) || m.final != statusDropped {
			t.Errorf("close event %d: %d transitions, first %+v, final %+v; want OPEN>CLOSED %+v", code, o.ntrans, o.trans[0], m.final, statusDropped)
		}
	}
	for _, code := range []StatusCode{1000, 1005, 1014, 3000, 4999} {
		m := newMachine(machineConfigs["browser"])
		m.opened()
		m.take()
		m.closeEvent(code, "", true)
		if m.final.Code != code || !m.final.WasClean {
			t.Errorf("close event %d: final %+v, want that code, clean", code, m.final)
		}
	}
}

// Heartbeat: idle for Interval sends one; silence for Timeout after it
// fails the connection with 1006 "heartbeat timeout", decided locally.
func TestMachineHeartbeat(t *testing.T) {
	m := newMachine(machineConfigs["browser"])
	m.opened()
	if o := m.take(); o.armHeartbeat != time.Second {
		t.Fatalf("opened: heartbeat armed for %v", o.armHeartbeat)
	}
	m.heartbeatFired()
	if o := m.take(); !o.sendHeartbeat || o.armHeartbeat != 2*time.Second {
		t.Fatalf("idle: %+v", o)
	}
	m.alive() // a heartbeat reply, consumed by the wrapper
	if o := m.take(); o.queued || m.queueLen() != 0 {
		t.Fatal("a heartbeat reply was queued")
	}
	m.heartbeatFired()
	if o := m.take(); o.sendHeartbeat || o.armHeartbeat != time.Second || o.decided {
		t.Fatalf("answered: %+v", o)
	}
	m.heartbeatFired()
	m.take()
	m.heartbeatFired()
	o := m.take()
	if !o.decided || !o.abort || !o.courtesy || m.status != statusHeartbeat || m.sendAllowed() {
		t.Fatalf("silent peer: %+v status %+v", o, m.status)
	}
}

// TestMachineLookAfterBacklog: a look that found a backlog makes the next
// Send look again, whenever it comes; another waits closeCheckEvery.
func TestMachineLookAfterBacklog(t *testing.T) {
	for _, now := range []int64{0, 1, int64(time.Hour)} {
		if !closeCheckDue(now, lookEnded(now, true)) {
			t.Errorf("at %d, a Send right after a look that found a backlog does not look", now)
		}
		if closeCheckDue(now, lookEnded(now, false)) {
			t.Errorf("at %d, a Send right after a quiet look looks again", now)
		}
		if !closeCheckDue(now+int64(closeCheckEvery), lookEnded(now, false)) {
			t.Errorf("at %d, a Send %v after a look does not look", now, closeCheckEvery)
		}
	}
}

// TestMachineBacklogLookLimit: a native look that has seen a backlog may
// wait maxDrain, until one is cut short by its limit; then readerCatchUpMax,
// until a look ends caught up without a backlog. The browser's drain turns
// off and on by the same rule (drainOffAfter).
func TestMachineBacklogLookLimit(t *testing.T) {
	if got := backlogLookLimit(false); got != maxDrain {
		t.Errorf("backlog look limit %v, want maxDrain %v", got, maxDrain)
	}
	if got := backlogLookLimit(true); got != readerCatchUpMax {
		t.Errorf("backlog look limit while off %v, want readerCatchUpMax %v", got, readerCatchUpMax)
	}
	for _, tc := range []struct {
		off, backlog, cut, want bool
	}{
		{false, true, true, true}, // a stream: one long wait, then short ones
		{true, true, true, true},
		{true, false, false, false}, // caught up without a backlog: long waits again
		{false, false, false, false},
		{true, true, false, true},   // a quiet gap within a stream: still off
		{false, true, false, false}, // a backlog waited out
		{true, false, true, true},   // a slow reader without a backlog: as it was
		{false, false, true, false},
	} {
		if got := drainOffAfter(tc.off, tc.backlog, tc.cut); got != tc.want {
			t.Errorf("drainOffAfter(off %v, backlog %v, cut %v) = %v, want %v", tc.off, tc.backlog, tc.cut, got, tc.want)
		}
	}
}

// TestMachineDrainQuiet: a browser drain is quiet only after quietTurns
// turns in a row without a socket event and drainQuietJS without one, or
// twice the longest gap between deliveries when that is longer. The first
// row is a run traced in Chromium on a loaded machine: one quiet turn of
// 6.1 ms after gaps of 3.7 ms, and the rest of the backlog, with the close,
// came after it.
func TestMachineDrainQuiet(t *testing.T) {
	ms := func(f float64) int64 { return int64(f * float64(time.Millisecond)) }
	for _, tc := range []struct {
		turns      int
		since, gap int64
		want       bool
	}{
		{1, ms(6.1), ms(3.7), false},
		{2, ms(6.1), ms(3.7), false},
		{2, ms(7.4), ms(3.7), true},
		{2, ms(4), ms(1), true},
		{2, ms(3.9), 0, false},
		{5, ms(3.9), ms(1), false},
		{1, ms(20), 0, false},
	} {
		if got := drainQuietFor(tc.turns, tc.since, tc.gap); got != tc.want {
			t.Errorf("drainQuietFor(%d turns, %v since the last event, longest gap %v) = %v, want %v",
				tc.turns, time.Duration(tc.since), time.Duration(tc.gap), got, tc.want)
		}
	}
}

// TestMachineLookTakesRecentBytesAsABacklog: a native look counts as a
// backlog drainWindow bytes taken within recentSpan, the last of them
// less than recentSpan ago, by a reader found behind the socket within
// recentSpan or inside a message (first row: the traced failure, 250 KiB
// taken, the last 4.1 ms before the look; the last rows: an echo stream,
// never behind, and a paced message the reader is inside).
func TestMachineLookTakesRecentBytesAsABacklog(t *testing.T) {
	const never = math.MaxInt64
	for _, tc := range []struct {
		bytes                  int64
		sinceLast, sinceBehind time.Duration
		midMessage             bool
		want                   bool
	}{
		{250 << 10, 4100 * time.Microsecond, 6 * time.Millisecond, false, true},
		{drainWindow, 0, 0, false, true},
		{drainWindow - 1, 0, 0, true, false},
		{drainWindow, recentSpan - 1, recentSpan - 1, false, true},
		{drainWindow, recentSpan, 0, true, false},
		{drainWindow, 0, recentSpan, false, false},
		{1 << 20, 0, never, false, false},
		{1 << 20, 0, never, true, true},
	} {
		if got := takenLately(tc.bytes, int64(tc.sinceLast), int64(tc.sinceBehind), tc.midMessage); got != tc.want {
			t.Errorf("takenLately(%d bytes, the last %v ago, behind %v ago, inside a message %v) = %v, want %v", tc.bytes, tc.sinceLast, tc.sinceBehind, tc.midMessage, got, tc.want)
		}
	}
}

// TestMachineReaderBehind: a full Read leaves its reader behind when half
// the socket's receive buffer or more waits after it (behindMin when its
// size is unknown), or when the platform cannot tell.
func TestMachineReaderBehind(t *testing.T) {
	for _, tc := range []struct {
		pending, rcvbuf int
		known           bool
		want            bool
	}{
		{64 << 10, 128 << 10, true, true},
		{64<<10 - 1, 128 << 10, true, false},
		{60 << 10, 128 << 10, true, false}, // a 64 KiB echo after a 4 KiB read
		{1 << 20, 4 << 20, true, false},
		{behindMin, 0, true, true},
		{behindMin - 1, 0, true, false},
		{1, 128 << 10, true, false}, // an end, no bytes
		{0, 0, false, true},
	} {
		if got := readerBehind(tc.pending, tc.rcvbuf, tc.known); got != tc.want {
			t.Errorf("readerBehind(%d pending, receive buffer %d, known %v) = %v, want %v", tc.pending, tc.rcvbuf, tc.known, got, tc.want)
		}
	}
}

// TestMachineStreamGoesOn: a look counts a stream as a backlog for
// drainOffAfter when the reader took a backlog lately, and while drainOff
// when it took any byte within recentSpan.
func TestMachineStreamGoesOn(t *testing.T) {
	for _, tc := range []struct {
		drainOff, lately bool
		sinceLast        time.Duration
		want             bool
	}{
		{false, true, 0, true},
		{false, false, time.Millisecond, false},
		{true, false, time.Millisecond, true},
		{true, false, recentSpan - 1, true},
		{true, false, recentSpan, false},
		{true, true, recentSpan, true},
	} {
		if got := streamGoesOn(tc.drainOff, tc.lately, int64(tc.sinceLast)); got != tc.want {
			t.Errorf("streamGoesOn(drainOff %v, lately %v, the last byte %v ago) = %v, want %v", tc.drainOff, tc.lately, tc.sinceLast, got, tc.want)
		}
	}
}

// TestMachineStreamFollowed: only a look that counted a backlog taken
// lately and saw bytes come while it waited counts as cut short.
func TestMachineStreamFollowed(t *testing.T) {
	for _, tc := range []struct{ lately, tookMore, want bool }{
		{true, true, true},
		{true, false, false},
		{false, true, false},
		{false, false, false},
	} {
		if got := streamFollowed(tc.lately, tc.tookMore); got != tc.want {
			t.Errorf("streamFollowed(lately %v, took more %v) = %v, want %v", tc.lately, tc.tookMore, got, tc.want)
		}
	}
}

// TestMachineLookQuiet: a native look's quiet period stretches to twice
// the longest gap between the reader's Reads, within maxDrain (first
// row: the traced failure, a 4.2 ms gap, the close 1.5 ms after the last
// Read).
func TestMachineLookQuiet(t *testing.T) {
	for _, tc := range []struct{ quiet, gap, want time.Duration }{
		{drainQuiet, 4200 * time.Microsecond, 8400 * time.Microsecond},
		{drainQuiet, 0, drainQuiet},
		{drainQuiet, 300 * time.Microsecond, drainQuiet},
		{drainQuiet, time.Second, maxDrain},
		{time.Hour, time.Millisecond, time.Hour},
	} {
		if got := lookQuiet(tc.quiet, int64(tc.gap)); got != tc.want {
			t.Errorf("lookQuiet(%v, longest gap %v) = %v, want %v", tc.quiet, tc.gap, got, tc.want)
		}
	}
}

// TestMachineDrainsAtOnce: only the first yield after the open event
// drains whatever it takes, and not once drains are off.
func TestMachineDrainsAtOnce(t *testing.T) {
	for _, tc := range []struct{ settled, off, want bool }{
		{false, false, true},
		{false, true, false},
		{true, false, false},
		{true, true, false},
	} {
		if got := drainsAtOnce(tc.settled, tc.off); got != tc.want {
			t.Errorf("drainsAtOnce(settled %v, off %v) = %v, want %v", tc.settled, tc.off, got, tc.want)
		}
	}
}

// TestMachineQueueStorageStaysBounded: a queue that never empties (a slow
// consumer: natively the reader resumes after each Receive, in the browser
// messages keep coming) keeps storage for about what waits, not for every
// message it ever held (a helper's attack: capacity 115,456 for 63
// waiting after 100,000 messages).
func TestMachineQueueStorageStaysBounded(t *testing.T) {
	for _, canPause := range []bool{true, false} {
		m := newMachine(machineConfig{receiveQueue: 64, receiveQueueBytes: 1 << 30, canPause: canPause})
		m.opened()
		for i := 0; i < 100_000; i++ {
			m.message(Binary, []byte{byte(i)})
			if m.queueLen() >= 64 {
				msg, ok := m.receive()
				if !ok || msg.data[0] != byte(i-63) {
					t.Fatalf("message %d: got %v, %v; order broken", i-63, msg.data, ok)
				}
			}
			m.take()
		}
		if n, c := m.queueLen(), cap(m.queue); c > 4*n+64 {
			t.Errorf("canPause %v: capacity %d for %d waiting", canPause, c, n)
		}
	}
}

// is reports whether t is the transition from, to with status st
// (transition is not comparable, to keep its equality function out of the
// browser bundle).
func (t transition) is(from, to State, st CloseStatus) bool {
	return t.from == from && t.to == to && t.status == st
}

// is reports whether f is the close frame code, reason.
func (f closeFrame) is(code StatusCode, reason string) bool {
	return f.Code == code && f.Reason == reason
}
