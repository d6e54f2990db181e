//go:build js && wasm

package dualws

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"syscall/js"
	"time"
	"unsafe"
)

// The browser driver is built from syscall/js and the browser's own
// functions only: no JavaScript is compiled at run time, so it works under
// the strict Content Security Policy wasm pages use (see the README).
//
// Receiving is batched without a JS-to-Go call per message: the socket's
// message listener is Array.prototype.push bound to an array, and a second,
// one-shot listener posts a MessageChannel task (in WebKit a zero timer, see
// timerWake) that calls Go once to take every message pushed meanwhile.
// Open, error and close events call Go at once. Every listener is one
// permanent js.Func (jsOnEvent) bound to the driver's slot and serial.
// Each JS-to-Go call costs tens of microseconds; Go-to-JS calls are
// cheaper. A batch of small binary messages crosses as two strings, with a
// fixed dozen calls (batch_js.go); any other batch takes a few calls and
// two js.Values per message.

// driver, Client.t's type, is *jsConn in the browser rather than the
// transport interface: a *jsConn stored in an interface would make the
// linker keep every field type's String method and type data reachable
// from it (time.Duration's formatting among them), about 12 KB of the
// bundle. jsConn still implements transport.
type driver = *jsConn

// transportCanPause: the browser cannot stop reading a WebSocket.
const transportCanPause = false

var (
	jsGlobal         = js.Global()
	jsUint8Array     = jsGlobal.Get("Uint8Array")
	jsArray          = jsGlobal.Get("Array")
	jsMessageChannel = jsGlobal.Get("MessageChannel")
	jsSetTimeout     = jsGlobal.Get("setTimeout")
	jsSetImmediate   = nodeSetImmediate()
	jsObject         = jsGlobal.Get("Object")
	jsFunctionProto  = jsGlobal.Get("Function").Get("prototype")
	jsCall           = jsFunctionProto.Get("call")
	jsReflectGet     = jsGlobal.Get("Reflect").Get("get")
	jsOnce           = jsObject.New() // {once: true}, the batch wake-up listener's options
)

// jsPortClose is MessagePort's close, called as jsPortClose(port);
// undefined in a runtime without MessageChannel, where Dial fails.
var jsPortClose = func() js.Value {
	if jsMessageChannel.Type() != js.TypeFunction {
		return js.Undefined()
	}
	return jsCall.Call("bind", jsMessageChannel.New().Get("port1").Get("close"))
}()

func init() { jsOnce.Set("once", true) }

// jsGetter returns the getter of the property name of proto bound to be
// called as getter(obj), for Array.prototype.map. It panics (a js.Error or
// *js.ValueError) where proto, the property or its getter is missing.
func jsGetter(proto js.Value, name string) js.Value {
	get := jsObject.Call("getOwnPropertyDescriptor", proto, name).Get("get")
	if get.Type() != js.TypeFunction {
		panic("dualws: no getter")
	}
	return jsCall.Call("bind", get)
}

// timerTurns: in Firefox a posted message or a zero timer often runs
// before socket events queued earlier (its first turn is already quiet), so
// there a yield after the program went idleGap without sending starts
// with a 1 ms timer, during which the event loop idles and runs
// them. Within a run of sends a yield starts with a background-priority
// task instead (scheduler.postTask, else a zero timer), which runs after
// the queued socket events nearly always and costs some 50 µs, not 1–2 ms.
var timerTurns = userAgentHas("Firefox/")

// timerWake: in WebKit a MessagePort message goes through the network
// process, behind the socket's traffic (100-200 µs when idle), so there
// the batch wake-up that the first message of a batch sets off is a zero
// timer, which stays in the page: an echo round trip measured 0.54-0.58 ms
// against 0.90-1.00 ms with the port. The yield's turns keep the port:
// their round trip through the network process is what lets a close in.
var timerWake = userAgentHas("AppleWebKit") && !userAgentHas("Chrome/")

// nodeSetImmediate returns Node's setImmediate, or undefined elsewhere:
// a page may install a setImmediate polyfill (on window.postMessage, say),
// whose turns would not keep the yield's ordering with the socket.
func nodeSetImmediate() js.Value {
	proc := jsGlobal.Get("process")
	if proc.Type() != js.TypeObject {
		return js.Undefined()
	}
	if v := proc.Get("versions"); v.Type() != js.TypeObject || v.Get("node").Type() != js.TypeString {
		return js.Undefined()
	}
	return jsGlobal.Get("setImmediate")
}

// userAgentHas reports whether navigator.userAgent contains sub.
func userAgentHas(sub string) bool {
	ua := jsGlobal.Get("navigator")
	if ua.Type() == js.TypeObject {
		ua = ua.Get("userAgent")
	}
	if ua.Type() != js.TypeString {
		return false
	}
	u := ua.String()
	for i := 0; i+len(sub) <= len(u); i++ {
		if u[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// jsBackgroundTurn queues a background-priority task, called as
// jsBackgroundTurn(fn, jsBackgroundOpts): scheduler.postTask bound to the
// scheduler where the browser has it, else setTimeout, for which
// jsBackgroundOpts is a zero delay.
var jsBackgroundTurn, jsBackgroundOpts = func() (js.Value, any) {
	sched := jsGlobal.Get("scheduler")
	if sched.Type() == js.TypeObject && sched.Get("postTask").Type() == js.TypeFunction {
		opts := jsObject.New()
		opts.Set("priority", "background")
		return bound(sched, "postTask"), opts
	}
	return jsSetTimeout, 0
}()

// idleGap is the time without a Send after which a yield in Firefox starts
// with a timer: 2 ms, since the page's clocks there step by 1 ms, so that
// Sends in a run, however close, are never taken for a pause.
const idleGap = 2 * time.Millisecond

// jsEventData is MessageEvent.prototype.data's getter bound to be called as
// jsEventData(event), so that Array.prototype.map with it turns a batch of
// message events into their data in one call; undefined where the getter
// is not there, and drain then reads each event's data, as it does for a
// socket whose events are not the global MessageEvent's (Node's).
var jsEventData = func() (get js.Value) {
	defer func() {
		if recover() != nil { // no MessageEvent, or no getter
			get = js.Undefined()
		}
	}()
	return jsGetter(jsGlobal.Get("MessageEvent").Get("prototype"), "data")
}()

// maxYieldTurns bounds the event-loop turns one yield waits for.
const maxYieldTurns = 16

// jsConn drives the client from the browser's WebSocket.
type jsConn struct {
	c    *Client
	ws   js.Value
	send js.Value // ws.send, bound
	// Reflect.get bound to (ws, "readyState"): a property read by name
	// (ws.Get) decodes the name from Go memory on every call, and Send
	// reads the state every time.
	state js.Value

	msgs    js.Value // message events, pushed by the bound Array.prototype.push
	push    js.Value // the bound push, the permanent message listener
	port    js.Value // port2 of the MessageChannel whose port1's onmessage is jsOnEvent bound to (id, serial, true)
	id      int      // the driver's index in jsConns
	serial  int      // the dial's number, unique in the page: a later driver in the slot ignores this one's events
	port1   js.Value
	post    js.Value // the one-shot batch wake-up: port2.postMessage bound to 0, or in WebKit a zero timer (see timerWake)
	onEvent js.Value // jsOnEvent bound to (id, serial, false): the open, error and close listener

	dialing  bool          // until the open event; a failure before it finishes the driver
	openCh   chan struct{} // the open event arrived
	finished bool
	doneCh   chan struct{} // closed by finish

	events     atomic.Int64 // socket events taken so far
	bytesIn    atomic.Int64 // bytes of the messages taken so far
	drainOff   bool         // no drain (drainOffAfter): one was cut short by maxDrain, and no yield has ended quiet on less than drainWindow since
	waitToken  atomic.Int64 // the turn a yield waits for
	token      int64
	turnCh     chan struct{}
	yieldMu    sync.Mutex
	lastQuiet  atomic.Int64 // when a yield last ended on quiet turns (jsClock); 0: never
	lastWrite  atomic.Int64 // when the last Send reached the driver (jsClock)
	settled    bool         // a yield has let the event loop run until openSettle after the open event, and drained (drainsAtOnce)
	drains     int          // drains begun, for tests
	longestGap int64        // in yieldTurns: the longest time between two turns that brought socket events
	openedAt   int64        // the open event's jsClock reading

	rscratch [1024]byte // drain's: binary messages up to 1023 bytes come through it
	batched  int        // messages taken by the batch path (batch_js.go), for tests
	byEvent  int8       // 0: not yet known; 1: jsEventData reads this socket's events; 2: it cannot

	sendMu    sync.Mutex
	sender    js.Value // a Uint8Array whose set is send (see sendDirect)
	senderLen int
	unchecked int // bytes sent since bufferedAmount was last read
}

// platformProblem says why an option cannot apply in the browser, or
// returns "". The URL is the browser's to check: its WebSocket
// constructor throws for a bad one (Dial's "refused by the browser").
func platformProblem(_ string, s *settings) string {
	if len(s.header) > 0 {
		return "Options.Header is not supported in the browser: scripts cannot set handshake headers"
	}
	return nativeOnlyProblem(s.httpClient, s.tlsConfig)
}

// newWebSocket calls the WebSocket constructor, turning a thrown exception
// (a bad URL or subprotocol, a page policy) into an error.
func newWebSocket(url string, protocols []string) (ws js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			if jsErr, ok := r.(js.Error); ok {
				err = jsErr
				return
			}
			err = errors.New("the WebSocket constructor failed")
		}
	}()
	ps := make([]any, len(protocols))
	for i, p := range protocols {
		ps[i] = keepBOM(p) // with its U+FEFF it is no token, and the constructor throws, as natively Dial refuses it
	}
	return jsGlobal.Get("WebSocket").New(url, ps), nil
}

// dialTransport opens the connection within the handshake timeout.
func dialTransport(ctx context.Context, c *Client) error {
	reason, err := dialJS(ctx, c)
	if reason == "" {
		return nil
	}
	return &DialError{URL: c.url, Reason: reason, Err: err}
}

// dialJS opens the connection, or returns the DialError's reason and
// cause. It uses a timer rather than context.WithTimeout, whose String
// method links time formatting (about 80 KB) into the bundle.
func dialJS(ctx context.Context, c *Client) (reason string, err error) {
	if jsGlobal.Get("WebSocket").IsUndefined() || jsPortClose.IsUndefined() {
		return "connection failed", errNoWebSocket
	}
	if reason, err := dialReason(ctx, false); reason != "" {
		return reason, err // as natively, no connection is attempted
	}
	ws, err := newWebSocket(c.url, c.cfg.subprotocols)
	if err != nil {
		return "refused by the browser", err
	}
	d := &jsConn{
		c: c, ws: ws, dialing: true,
		openCh: make(chan struct{}), doneCh: make(chan struct{}),
		turnCh: make(chan struct{}, 1),
	}
	ws.Set("binaryType", "arraybuffer")
	d.send = bound(ws, "send")
	d.state = jsReflectGet.Call("bind", nil, ws, "readyState")
	d.msgs = jsArray.New()
	d.push = bound(d.msgs, "push")
	mc := jsMessageChannel.New()
	d.port, d.port1 = mc.Get("port2"), mc.Get("port1")
	d.post = bound(d.port, "postMessage", 0)
	for d.id < len(jsConns) && jsConns[d.id] != nil {
		d.id++
	}
	if d.id == len(jsConns) {
		jsConns = append(jsConns, d)
	}
	jsConns[d.id] = d
	jsSerial++
	d.serial = jsSerial
	d.port1.Set("onmessage", jsOnEvent.Call("bind", nil, d.id, d.serial, true))
	if timerWake {
		// setTimeout(jsOnEvent(id, serial, true, {data: 0}), 0): a batch wake-up.
		zero := jsObject.New()
		zero.Set("data", 0)
		d.post = jsSetTimeout.Call("bind", nil, jsOnEvent.Call("bind", nil, d.id, d.serial, true, zero), 0)
	}
	d.onEvent = jsOnEvent.Call("bind", nil, d.id, d.serial, false)
	d.listen("addEventListener")
	c.t = d

	timedOut, timer := afterChan(c.cfg.handshakeTimeout)
	select {
	case <-d.openCh:
	case <-d.doneCh:
	case <-ctx.Done():
	case <-timedOut:
	}
	timer.Stop()
	switch {
	case d.finished: // the connection failed: socketEvent finished the driver
		return "connection failed", errBrowserHidesCause
	case !d.dialing: // opened
		// Let the open event's task end, so that the browser asks for the
		// frames that follow the handshake while the caller goes on.
		d.yieldTurns(nil, 1, 0, false, false)
		return "", nil
	}
	d.finish()
	return dialReason(ctx, true) // the context's error if it ended, else the handshake timeout
}

// bound returns obj[method] bound to obj and args.
func bound(obj js.Value, method string, args ...any) js.Value {
	return obj.Get(method).Call("bind", append([]any{obj}, args...)...)
}

// listen calls ws[method], addEventListener or removeEventListener, for
// each of the driver's listeners: onEvent for open, error and close, push
// for every message, and the one-shot batch wake-up (see wake).
func (d *jsConn) listen(method string) {
	for _, typ := range [...]string{"open", "error", "close", "message"} {
		fn := d.onEvent
		if typ == "message" {
			fn = d.push
		}
		d.ws.Call(method, typ, fn)
	}
	d.wake(method)
}

// wake adds (or removes) post as a one-shot message listener: the next
// message posts the task that drains the batch.
func (d *jsConn) wake(method string) { d.ws.Call(method, "message", d.post, jsOnce) }

var errNoWebSocket = errors.New("this JavaScript environment lacks WebSocket or MessageChannel")

var errBrowserHidesCause = errors.New("the browser does not say why (refused, handshake rejected, TLS or network error)")

// jsConns holds the drivers by id, for jsOnEvent; a finished driver's
// slot is nil, and a later dial takes it.
var jsConns []*jsConn

// jsSerial numbers the dials of the page.
var jsSerial int

// jsOnEvent is every driver's callback, bound to (id, serial, port) as its
// listeners. It is made once and never released: with a js.Func per
// connection, Release would link the runtime's map deletion, about 10 KB
// of the bundle. An event for a finished driver, or for an earlier one in
// the same slot, is dropped: a socket that fired its close event keeps its
// listeners (see finishClosed). It runs on the event loop and never blocks.
var jsOnEvent = js.FuncOf(func(_ js.Value, args []js.Value) any {
	if d := jsConns[args[0].Int()]; d != nil && !d.finished && d.serial == args[1].Int() {
		if args[2].Bool() {
			d.portMessage(args[3])
		} else {
			d.socketEvent(args[3])
		}
	}
	return nil
})

// portMessage takes a batch wake-up (data 0) or a yield's turn (data =
// its token).
// The turn's notify comes first: drain may run the application's code
// (IsReply, OnStateChange), which may end the yielding Send's context, and
// a notify after it would stay pending for a later yield. The yield runs
// only after this task's Go code, so it still counts what drain took.
func (d *jsConn) portMessage(ev js.Value) {
	if tok := int64(ev.Get("data").Int()); tok != 0 && tok == d.waitToken.Load() {
		notify(d.turnCh)
	}
	d.drain()
}

// socketEvent takes open, error and close.
func (d *jsConn) socketEvent(ev js.Value) {
	d.drain() // messages come before the close that follows them
	d.events.Add(1)
	switch typ := ev.Get("type").String(); {
	case typ == "open":
		d.openedAt = jsClock()
		d.dialing = false
		d.c.opened(d.ws.Get("protocol").String())
		close(d.openCh)
	case d.dialing:
		// An error or close before the open event: the dial failed. (A
		// close event follows an error, except in Node before the socket
		// opened.) After the open event an error is followed by a close.
		d.finish()
	case typ == "close":
		code, reason, clean := StatusCode(ev.Get("code").Int()), ev.Get("reason").String(), ev.Get("wasClean").Bool()
		d.finishClosed()
		d.c.closeEvent(code, reason, clean)
	}
}

// drain takes every message event pushed since the last drain.
func (d *jsConn) drain() {
	n := d.msgs.Length()
	if n == 0 {
		return
	}
	d.events.Add(int64(n))
	limit := d.c.cfg.readLimit
	if d.byEvent == 0 {
		// Node's WebSocket dispatches events of another MessageEvent
		// class, whose data the global one's getter refuses (it throws).
		d.byEvent = 2
		if !jsEventData.IsUndefined() && d.msgs.Index(0).InstanceOf(jsGlobal.Get("MessageEvent")) {
			d.byEvent = 1
		}
	}
	datas, byEvent := d.msgs, d.byEvent == 2
	if !byEvent {
		datas = d.msgs.Call("map", jsEventData) // one call for the batch
		max := batchMaxSize
		if limit >= 0 && limit < int64(max) {
			max = int(limit)
		}
		if batch := batchBinary(datas, n, max); batch != nil {
			size := 0
			for _, p := range batch {
				size += len(p)
			}
			d.bytesIn.Add(int64(size))
			d.c.deliverAll(batch)
			d.batched += n
			n = 0
		}
	}
	for i := 0; i < n; i++ {
		data := datas.Index(i)
		if byEvent {
			data = data.Get("data")
		}
		var typ MessageType
		var p []byte
		if data.Type() == js.TypeString {
			s := data.String()
			// The string is this function's own copy; its bytes become the
			// message without another copy. Not for one byte: such a
			// string points into memory the runtime shares (and the
			// application may write to its message), nor for none (nil).
			typ, p = Text, unsafe.Slice(unsafe.StringData(s), len(s))
			if len(s) <= 1 {
				p = []byte(s)
			}
		} else {
			// A message shorter than the scratch buffer is measured and
			// copied by one call.
			u8 := jsUint8Array.New(data)
			size := js.CopyBytesToGo(d.rscratch[:], u8)
			if size == len(d.rscratch) {
				size = u8.Length()
			}
			if limit >= 0 && int64(size) > limit {
				d.c.messageTooBig()
				break
			}
			typ, p = Binary, make([]byte, size)
			if size < len(d.rscratch) {
				copy(p, d.rscratch[:size])
			} else {
				js.CopyBytesToGo(p, u8)
			}
		}
		if limit >= 0 && int64(len(p)) > limit {
			d.c.messageTooBig()
			break
		}
		d.bytesIn.Add(int64(len(p)))
		d.c.deliver(typ, p)
	}
	d.msgs.Set("length", 0)
	if !d.finished {
		d.wake("addEventListener")
	}
}

// readyState is the socket's: 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED.
func (d *jsConn) readyState() int { return d.state.Invoke().Int() }

// finish detaches the driver from the socket and frees its jsConns slot.
// A socket still open (an abandoned one) is asked to close.
func (d *jsConn) finish() {
	if d.finished {
		return
	}
	d.listen("removeEventListener")
	d.ws.Call("close") // a socket still open (an abandoned one); close does nothing once CLOSING or CLOSED
	d.finishClosed()
}

// finishClosed is finish for a socket that fired its close event, its
// last: its listeners stay, since jsOnEvent drops what a finished driver's
// socket could still dispatch (only a script's own dispatchEvent), and its
// port is closed in a task of its own. A close event then reaches CLOSED
// sooner: in Chromium the five removeEventListener calls took 44 µs and
// the port's close 33 µs, in a handler of 270 µs in all.
func (d *jsConn) finishClosed() {
	if d.finished {
		return
	}
	d.finished = true
	// A started MessagePort stays alive while entangled, so it must be
	// closed; closing it later changes nothing, since nothing it delivers
	// reaches a finished driver.
	jsSetTimeout.Invoke(jsPortClose, 0, d.port1)
	jsConns[d.id] = nil
	close(d.doneCh)
}

// yield lets the browser's event loop run when the clock has crossed a
// millisecond boundary since the last yield found it quiet (or none ever
// did), so that a close that has reached the browser is seen before the
// next message goes out. Being called from the event loop is not enough:
// Dial and Receive return inside an event's task, with later events still
// queued. A yield comes at the first Send after each boundary, however
// soon after the last yield: a rule of a millisecond after the last yield
// ended halved the yields of a send flood and raised its seeds in Chromium
// from 0 to 287 in one run. It ends early when stop is closed (the Send's
// context ended: the Send sends nothing), and then counts as no yield.
func (d *jsConn) yield(stop <-chan struct{}) {
	now := jsClock()
	// A program that sent nothing for idleGap has been computing or
	// waiting: in Firefox the yield lets the event loop idle first.
	idle := now-d.lastWrite.Swap(now) >= int64(idleGap)
	if closeCheckDue(jsMillis(now), jsMillis(d.lastQuiet.Load())) {
		span := time.Duration(0)
		if !d.settled {
			span = max(0, openSettle-time.Duration(now-d.openedAt))
		}
		drainNow := drainsAtOnce(d.settled, d.drainOff)
		ok := d.yieldTurns(stop, quietTurns, span, idle, drainNow)
		// A yield that stop cut short (its token cleared) did not settle:
		// the first Send's settle, or a drain, is still to come.
		if ok || drainNow && d.waitToken.Load() != 0 {
			d.settled = true
		}
		if ok {
			d.lastQuiet.Store(jsClock())
		}
	}
}

// nanotime is the runtime's monotonic clock: in wasm_exec.js,
// performance.now plus the page's time origin, in nanoseconds (never near
// 0, which lastQuiet uses for "never").
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// jsClock is the monotonic clock in nanoseconds. It is the runtime's own,
// read without time.Time: time.Since would link time.Time's arithmetic
// (about 4 KB) into the bundle, and a call of performance.now through
// syscall/js cost its value's marshalling and a bound function.
func jsClock() int64 { return nanotime() }

// jsMillis truncates a jsClock reading to whole milliseconds, so that
// closeCheckDue of two readings says whether a boundary lies between them.
func jsMillis(t int64) int64 { return t - t%int64(time.Millisecond) }

// yieldTurns lets the event loop run turn after turn, each a fresh task of
// its own, until quiet turns in a row delivered no socket event, at most
// maxYieldTurns. A turn ends only when its own task ran, never on another
// wake-up. The turns span at least span: a timer task for what is left of
// it, so the event loop idles meanwhile. In Firefox (timerTurns) the first
// turn is a 1 ms timer when idle is set, else a background task.
//
// Once the turns have taken drainWindow bytes of messages, the browser may
// hold more behind them (Chromium reads from the network only as the page
// takes data, with gaps of milliseconds): the turns then go on until no
// the drain is quiet (drainQuietFor), at most maxDrain. A drain cut short
// by maxDrain (a stream, not a backlog) is not tried again until a yield
// ends quiet having taken less than drainWindow. With drainNow the drain
// begins at the first turn. It reports whether it ended quiet.
func (d *jsConn) yieldTurns(stop <-chan struct{}, quiet int, span time.Duration, idle, drainNow bool) bool {
	span = max(0, span)
	d.yieldMu.Lock()
	now := jsClock()
	still, end, left := 0, now+int64(span), int64(span) // left: nanoseconds of the span still to go
	budget, taken := maxYieldTurns+int(span/time.Millisecond)*4, d.bytesIn.Load()
	var drainFrom, lastEvent int64 // drainFrom: when the drain began, 0 if none
	d.longestGap = 0
	drained := false // the drain ended on quiet
	if drainNow {
		drainFrom, lastEvent = now, now
		d.drains++
	}
	for turn := 0; !d.finished && (drainFrom != 0 || turn < budget && (still < quiet || left > 0)); turn++ {
		before := d.events.Load()
		d.token++
		d.waitToken.Store(d.token)
		if drainFrom != 0 {
			// A timer: the event loop idles, and Chromium refills.
			jsSetTimeout.Invoke(bound(d.port, "postMessage", d.token), 1)
		} else if left > 0 || timerTurns && turn == 0 {
			post := bound(d.port, "postMessage", d.token)
			switch {
			case left > 0:
				// One timer for what is left of the span: the event loop
				// idles meanwhile, so whatever the browser has queued runs.
				jsSetTimeout.Invoke(post, left/int64(time.Millisecond)+1)
			case idle:
				// Firefox runs posted messages and zero timers before
				// socket events queued earlier: an idle millisecond lets
				// them run.
				jsSetTimeout.Invoke(post, 1)
			default:
				jsBackgroundTurn.Invoke(post, jsBackgroundOpts)
			}
		} else if jsSetImmediate.Type() == js.TypeFunction {
			// Node: a MessagePort delivers the messages posted while it
			// delivers (up to 1000) in the same pass, without polling the
			// sockets, so a turn posted from a turn never lets a close in.
			// setImmediate posts it after the event loop's poll for I/O.
			jsSetImmediate.Invoke(bound(d.port, "postMessage", d.token))
		} else {
			d.port.Call("postMessage", d.token)
		}
		select {
		case <-d.turnCh:
		case <-d.doneCh: // finished: the loop ends
		case <-stop:
			// The Send's context ended. Its turn may still come, and must
			// end no later yield: the token is cleared. No notify is
			// pending: a turn's task notifies before it runs other code
			// (portMessage), and the runtime runs the goroutine that stop
			// woke before it returns to the event loop for another task.
			d.waitToken.Store(0)
			d.yieldMu.Unlock()
			return false
		}
		now = jsClock()
		if d.events.Load() == before {
			still++
		} else {
			d.longestGap = max(d.longestGap, now-lastEvent)
			still, lastEvent = 0, now
		}
		left = end - now
		if drainFrom == 0 && !d.drainOff && d.bytesIn.Load()-taken >= drainWindow {
			drainFrom, lastEvent = now, now
			d.drains++
		}
		if drainFrom != 0 && left <= 0 {
			if drained = drainQuietFor(still, now-lastEvent, d.longestGap); drained {
				break
			}
			if now-drainFrom >= int64(maxDrain) {
				break
			}
		}
	}
	ok := still >= quiet && left <= 0
	if drainFrom != 0 {
		ok = drained
	}
	ok = ok && !d.finished
	d.drainOff = drainOffAfter(d.drainOff, d.bytesIn.Load()-taken >= drainWindow, !ok)
	d.yieldMu.Unlock()
	return ok
}

func (d *jsConn) write(ctx context.Context, typ MessageType, p []byte) (err error) {
	stop := ctx.Done()
	d.yield(stop)
	d.sendMu.Lock()
	// send() on a CLOSING socket discards silently: the close has reached
	// the browser but not yet the client.
	err = errTransportClosing
	if !d.finished && d.c.sendAllowed() && d.readyState() == 1 {
		// As natively, a Send whose context has ended sends nothing.
		if err = ctx.Err(); err == nil {
			switch {
			case typ == Text:
				d.send.Invoke(keepBOM(unsafe.String(unsafe.SliceData(p), len(p))))
			case jsDirectSend:
				d.sendDirect(p)
			default:
				v := jsUint8Array.New(len(p))
				js.CopyBytesToJS(v, p)
				d.send.Invoke(v)
			}
			d.unchecked += len(p)
		}
		// bufferedAmount is at most what it was plus what was sent since:
		// read it only when that could exceed the window.
		for err == nil && sendMustWait(d.unchecked) {
			if d.finished || d.readyState() != 1 {
				// The peer's close arrived while this message was still
				// queued: the browser discards it. After the client's own
				// close (Close, or its 1008 or 1009) the browser still
				// sends it, before the close frame: Send waits on, as
				// natively Close waits for a Send in progress, and fails
				// only if the close does not end clean (a peer that does
				// not read: close timeout).
				st, own := d.c.CloseStatus()
				if !own || st.Remote || st.Code == StatusAbnormalClosure || d.finished && !st.WasClean {
					err = errTransportClosing
				}
				if d.finished || err != nil {
					break
				}
			}
			if d.unchecked = d.bufferedAmount(); !sendMustWait(d.unchecked) {
				break
			}
			if err = ctx.Err(); err != nil {
				break // the message is the browser's now and may still go out
			}
			d.sendMu.Unlock()
			d.yieldTurns(stop, 1, time.Millisecond, false, false) // timer turns: no busy wait while the browser drains
			d.sendMu.Lock()
		}
	}
	d.sendMu.Unlock()
	return err
}

// jsDirectSend: wasm_exec.js's copyBytesToJS(dst, src) calls dst.set with
// a view of src in Go memory. Given a Uint8Array whose own set is the
// socket's bound send, it then sends a binary message straight from Go
// memory, in one call instead of a copy and a send; send copies the bytes
// before it returns, as the WebSocket standard requires, so p is free
// again when Send returns. Four alternated runs of Chromium and Firefox
// gave 4.5-6.6% more messages a second, 32 B and 64 KiB alike. Probed at
// start-up: a wasm_exec.js that copies some other way leaves the probe's
// push uncalled, and Send copies, then sends.
var jsDirectSend = func() bool {
	got := jsArray.New()
	probe := jsUint8Array.New(1)
	probe.Set("set", bound(got, "push"))
	js.CopyBytesToJS(probe, []byte{7})
	return got.Length() == 1
}()

// sendDirect sends p straight from Go memory (jsDirectSend) through a
// Uint8Array at least as long as p whose own set is send; its bytes are
// never written. The connection keeps one of up to maxSendBuffer bytes,
// made at 4 KiB and doubled to fit; a longer message gets one of its own,
// so one 16 MiB Send does not hold 16 MiB for the connection's life.
func (d *jsConn) sendDirect(p []byte) {
	s := d.sender
	if n := len(p); n > d.senderLen || d.senderLen == 0 {
		size := 4096
		for size < n {
			size *= 2
		}
		if size > maxSendBuffer {
			size = n
		}
		s = jsUint8Array.New(size)
		s.Set("set", d.send)
		if size <= maxSendBuffer {
			d.sender, d.senderLen = s, size
		}
	}
	js.CopyBytesToJS(s, p)
}

// maxSendBuffer is the longest sender (see sendDirect) a connection keeps.
const maxSendBuffer = 1 << 20

// sendClose asks the browser to close; it returns at once, here or not.
func (d *jsConn) sendClose(code StatusCode, reason string, _ bool) {
	if d.finished {
		return
	}
	d.closeSocket(code, reason)
}

func (d *jsConn) closeSocket(code StatusCode, reason string) {
	defer func() { recover() }() // validateClose applies the browser's rule: a throw here is the page's doing
	d.ws.Call("close", int(code), keepBOM(reason))
}

// keepBOM returns s as wasm_exec.js must get it for the browser to see s:
// its string conversion, a TextDecoder, drops one leading U+FEFF (a text
// message, close reason or subprotocol that starts with one lost it).
func keepBOM(s string) string {
	if len(s) >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF {
		return "\uFEFF" + s
	}
	return s
}

// abort abandons the socket: scripts cannot kill a WebSocket, so the
// browser finishes it on its own while the client reports CLOSED now.
// With courtesy the socket is first asked to close with frame.
func (d *jsConn) abort(courtesy bool, frame closeFrame) {
	if d.finished {
		return
	}
	if courtesy {
		d.closeSocket(frame.Code, frame.Reason)
	}
	d.finish()
	d.c.transportGone(false)
}

func (d *jsConn) bufferedAmount() int {
	if d.finished {
		return 0
	}
	return d.ws.Get("bufferedAmount").Int()
}
