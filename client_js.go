//go:build js && wasm

package dualws

import (
	"context"
	"errors"
	"sync"
	"syscall/js"
	"time"
)

// shimSource is the only JavaScript dualws runs. It owns the browser's
// WebSocket and batches its events: message, open and close events are
// appended to two growable buffers (records of four int32 and their
// payload bytes), and Go is woken once per event-loop turn, not once per
// message, because each JS-to-Go call costs tens of microseconds.
// Records: kind, payload length, a, b. Kinds: 1 text, 2 binary, 3 open,
// 4 close (a = code, b = wasClean), 5 message over the read limit,
// 6 error before the socket opened (Node fires no close event then),
// 7 binary message kept as its ArrayBuffer (a = index in the batch's
// object list): large messages are copied once, straight into Go.
// Open, close and error events wake Go at once; messages wait for the
// batch, which costs one task hop of latency and saves a JS-to-Go call per
// message under load.
//
// It is compiled with the Function constructor, so a page whose Content
// Security Policy forbids 'unsafe-eval' cannot use dualws.
const shimSource = `
"use strict";
const ws = new WebSocket(url, protocols);
ws.binaryType = "arraybuffer";
const enc = new TextEncoder(), dec = new TextDecoder();
let meta = new Int32Array(256), nmeta = 0, objs = [], taken = [];
let data = new Uint8Array(1 << 16), ndata = 0;
let views = null; // what Go holds: byte views of meta and data; null after they grew
let sbuf = new Uint8Array(1 << 12);
let scheduled = false, detached = false;
const flush = () => { scheduled = false; if (!detached) notify(); };
const now = () => { if (!detached) notify(); };
let defer;
if (typeof setImmediate === "function") {
	defer = () => setImmediate(flush);
} else {
	const ch = new MessageChannel();
	ch.port1.onmessage = flush;
	defer = () => ch.port2.postMessage(0);
}
const schedule = () => { if (!scheduled && !detached) { scheduled = true; defer(); } };
const ensure = (n) => {
	if (ndata + n <= data.length) return;
	let cap = data.length * 2;
	while (cap < ndata + n) cap *= 2;
	const d = new Uint8Array(cap);
	d.set(data.subarray(0, ndata));
	data = d;
	views = null;
};
const record = (kind, len, a, b) => {
	if (nmeta + 4 > meta.length) {
		const m = new Int32Array(meta.length * 2);
		m.set(meta);
		meta = m;
		views = null;
	}
	meta[nmeta++] = kind; meta[nmeta++] = len; meta[nmeta++] = a; meta[nmeta++] = b;
	schedule();
};
const text = (s) => {
	ensure(s.length * 3);
	const n = enc.encodeInto(s, data.subarray(ndata)).written;
	ndata += n;
	return n;
};
ws.onopen = () => { record(3, 0, 0, 0); now(); };
ws.onmessage = (e) => {
	const d = e.data;
	if (typeof d === "string") {
		if (limit >= 0 && d.length > limit) { record(5, 0, 0, 0); return; }
		const n = text(d);
		if (limit >= 0 && n > limit) { ndata -= n; record(5, 0, 0, 0); return; }
		record(1, n, 0, 0);
		return;
	}
	const n = d.byteLength;
	if (limit >= 0 && n > limit) { record(5, 0, 0, 0); return; }
	if (n >= 16384) { objs.push(d); record(7, n, objs.length - 1, 0); return; }
	ensure(n);
	data.set(new Uint8Array(d), ndata);
	ndata += n;
	record(2, n, 0, 0);
};
ws.onerror = () => { if (ws.readyState !== 1) { record(6, 0, 0, 0); now(); } };
ws.onclose = (e) => { const n = text(e.reason); record(4, n, e.code, e.wasClean ? 1 : 0); now(); };
return {
	// take hands the batch to Go: it returns the meta byte count, negated
	// when Go must fetch views() anew, and leaves the data byte count in
	// takenData. Go copies from the views it holds, so a batch makes no
	// new JS objects for Go to track.
	take() {
		const n = nmeta * 4;
		this.takenData = ndata;
		taken = objs;
		nmeta = 0; ndata = 0; objs = [];
		if (views === null) { views = [new Uint8Array(meta.buffer), data]; return -n; }
		return n;
	},
	takenData: 0,
	views() { return views; },
	taken(i) { return taken[i]; },
	schedule,
	sendBuffer(n) {
		if (sbuf.length < n) sbuf = new Uint8Array(Math.max(n, sbuf.length * 2));
		return sbuf;
	},
	send(n, isText) {
		if (ws.readyState !== 1) return -ws.readyState;
		ws.send(isText ? dec.decode(sbuf.subarray(0, n)) : sbuf.subarray(0, n));
		return ws.bufferedAmount;
	},
	close(code, reason) {
		try { ws.close(code, reason); return ""; } catch (e) { return String(e); }
	},
	detach() {
		detached = true;
		ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
		try { if (ws.readyState < 2) ws.close(); } catch (e) {}
	},
	protocol() { return ws.protocol; },
	buffered() { return ws.bufferedAmount; },
	backlog() { return ws.readyState === 1 ? ws.bufferedAmount : -ws.readyState; },
};
`

var uint8Array = js.Global().Get("Uint8Array")

// browserWireTooBig is sent instead of 1009, which scripts may not send.
const browserWireTooBig StatusCode = 4009

// jsConn drives the core from the browser's WebSocket through shimSource.
type jsConn struct {
	c      *Client
	shim   js.Value
	notify js.Func

	dialing  bool
	openCh   chan struct{} // the open event arrived
	failCh   chan struct{} // the connection closed before opening
	finished bool

	sendMu  sync.Mutex
	sbuf    js.Value
	sbufLen int

	yieldMu   sync.Mutex
	yieldCh   chan struct{} // closed by the next notify
	lastYield time.Time     // when Go last ran from the event loop

	meta               []byte
	metaView, dataView js.Value // the shim's batch buffers, fetched again when they grow
}

func checkPlatformOptions(s *settings) error {
	if len(s.header) > 0 {
		return &UsageError{Op: "dial", Msg: "Options.Header is not supported in the browser: scripts cannot set handshake headers"}
	}
	return nil
}

func newShim(url string, protocols []string, limit int64, notify js.Func) (shim js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			if jsErr, ok := r.(js.Error); ok {
				err = jsErr
				return
			}
			panic(r)
		}
	}()
	ctor := js.Global().Get("Function").New("url", "protocols", "limit", "notify", shimSource)
	ps := make([]any, len(protocols))
	for i, p := range protocols {
		ps[i] = p
	}
	return ctor.Invoke(url, ps, float64(limit), notify), nil
}

// dialTransport opens the connection within the handshake timeout. It uses
// a timer rather than context.WithTimeout, whose String method links
// time formatting (about 80 KB) into the bundle.
func dialTransport(ctx context.Context, c *Client) error {
	if js.Global().Get("WebSocket").IsUndefined() {
		return &DialError{URL: c.url, Reason: "connection failed", Err: errors.New("this JavaScript environment has no WebSocket")}
	}
	d := &jsConn{c: c, dialing: true, openCh: make(chan struct{}), failCh: make(chan struct{}), lastYield: time.Now()}
	d.notify = js.FuncOf(d.onNotify)
	shim, err := newShim(c.url, c.cfg.subprotocols, c.cfg.readLimit, d.notify)
	if err != nil {
		d.notify.Release()
		return &DialError{URL: c.url, Reason: "invalid URL or subprotocol", Err: err}
	}
	d.shim = shim
	d.sbuf = shim.Call("sendBuffer", 0)
	d.sbufLen = d.sbuf.Length()
	c.t = d
	timer := time.NewTimer(c.cfg.handshakeTimeout)
	defer timer.Stop()
	timedOut := false
	select {
	case <-d.openCh:
		return nil
	case <-d.failCh:
		d.finish()
		return &DialError{URL: c.url, Reason: "connection failed", Err: errBrowserHidesCause}
	case <-ctx.Done():
	case <-timer.C:
		timedOut = true
	}
	d.finish()
	reason, err := dialReason(ctx, timedOut)
	return &DialError{URL: c.url, Reason: reason, Err: err}
}

var errBrowserHidesCause = errors.New("the browser does not say why (refused, handshake rejected, TLS or network error)")

// onNotify runs on the event loop once per batch of events. It never blocks.
func (d *jsConn) onNotify(js.Value, []js.Value) any {
	d.yieldMu.Lock()
	d.lastYield = time.Now()
	if d.yieldCh != nil {
		close(d.yieldCh)
		d.yieldCh = nil
	}
	d.yieldMu.Unlock()
	if d.finished {
		return nil
	}
	nm := d.shim.Call("take").Int()
	if nm < 0 {
		views := d.shim.Call("views")
		d.metaView, d.dataView = views.Index(0), views.Index(1)
		nm = -nm
	}
	if nm == 0 {
		return nil
	}
	if cap(d.meta) < nm {
		d.meta = make([]byte, nm)
	}
	meta := d.meta[:nm]
	js.CopyBytesToGo(meta, d.metaView) // copies len(meta) bytes
	var data []byte
	if n := d.shim.Get("takenData").Int(); n > 0 {
		data = make([]byte, n)
		js.CopyBytesToGo(data, d.dataView)
	}
	off := 0
	for i := 0; i+16 <= nm; i += 16 {
		kind, n := le32(meta[i:]), int(le32(meta[i+4:]))
		if kind == 7 {
			payload := make([]byte, n)
			js.CopyBytesToGo(payload, uint8Array.New(d.shim.Call("taken", int(le32(meta[i+8:])))))
			d.c.deliver(Binary, payload, false)
			continue
		}
		payload := data[off : off+n : off+n]
		off += n
		switch kind {
		case 1, 2:
			if payload == nil {
				payload = []byte{}
			}
			d.c.deliver(MessageType(kind), payload, false)
		case 3:
			d.dialing = false
			d.c.opened(d.shim.Call("protocol").String())
			close(d.openCh)
		case 4:
			code, clean := StatusCode(le32(meta[i+8:])), le32(meta[i+12:]) == 1
			if d.dialing {
				d.dialFailed()
				return nil
			}
			if code != StatusAbnormalClosure {
				d.c.peerClosed(code, string(payload))
			}
			d.finish()
			d.c.transportClosed(clean, statusDropped)
			return nil
		case 5:
			d.c.messageTooBig()
		case 6:
			if d.dialing {
				d.dialFailed()
				return nil
			}
		}
	}
	return nil
}

func (d *jsConn) dialFailed() {
	d.dialing = false
	close(d.failCh)
}

func le32(b []byte) int32 {
	return int32(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
}

// finish detaches the shim from the socket and releases the callback.
func (d *jsConn) finish() {
	if d.finished {
		return
	}
	d.finished = true
	d.shim.Call("detach")
	d.notify.Release()
	d.yieldMu.Lock()
	if d.yieldCh != nil {
		close(d.yieldCh)
		d.yieldCh = nil
	}
	d.yieldMu.Unlock()
}

// yield lets the browser's event loop run one turn if Go has not been
// called from it for a millisecond or more.
func (d *jsConn) yield() {
	d.yieldMu.Lock()
	recent := time.Since(d.lastYield) < time.Millisecond
	d.yieldMu.Unlock()
	if !recent {
		d.yieldNow()
	}
}

// yieldNow lets the browser's event loop run one turn.
func (d *jsConn) yieldNow() {
	d.yieldMu.Lock()
	if d.finished {
		d.yieldMu.Unlock()
		return
	}
	ch := d.yieldCh
	if ch == nil {
		ch = make(chan struct{})
		d.yieldCh = ch
	}
	d.yieldMu.Unlock()
	d.shim.Call("schedule")
	<-ch
}

func (d *jsConn) write(ctx context.Context, typ MessageType, p []byte) error {
	d.yield()
	if d.c.State() != Open || d.finished {
		return errTransportClosing
	}
	d.sendMu.Lock()
	defer d.sendMu.Unlock()
	if len(p) > d.sbufLen {
		d.sbuf = d.shim.Call("sendBuffer", len(p))
		d.sbufLen = d.sbuf.Length()
	}
	if len(p) > 0 {
		js.CopyBytesToJS(d.sbuf, p)
	}
	buffered := d.shim.Call("send", len(p), typ == Text).Int()
	if buffered < 0 {
		return errTransportClosing
	}
	for buffered > sendHighWater {
		// The browser queues without limit; wait as a socket would.
		d.sendMu.Unlock()
		d.yieldNow()
		d.sendMu.Lock()
		if d.finished {
			return errTransportClosing
		}
		buffered = d.shim.Call("backlog").Int()
	}
	if buffered < 0 {
		// The peer's close arrived while this message was still queued:
		// the browser discards it.
		return errTransportClosing
	}
	return nil
}

// sendHighWater bounds WebSocket.bufferedAmount: the browser queues without
// limit, so Send waits, one event-loop turn at a time, while more than this
// is queued, as a native Send waits for the socket. It bounds memory, not
// loss: the browser discards what is still queued when the peer's close
// frame arrives, and then reports the close as not clean.
const sendHighWater = 1 << 20

func (d *jsConn) sendClose(code StatusCode, reason string) {
	if code == StatusMessageTooBig {
		code = browserWireTooBig
	}
	if msg := d.shim.Call("close", int(code), reason).String(); msg != "" {
		d.c.cfg.logger.Warn("dualws: browser rejected close", "err", msg)
	}
}

// abort abandons the socket: scripts cannot kill a WebSocket, so the
// browser finishes it on its own while the client reports CLOSED now.
func (d *jsConn) abort() {
	if d.finished {
		return
	}
	d.finish()
	d.c.transportClosed(false, statusDropped)
}

func (d *jsConn) bufferedAmount() int {
	if d.finished {
		return 0
	}
	return d.shim.Call("buffered").Int()
}
