//go:build !js

package faults

import (
	"fmt"
	"time"
)

// Where Firefox ESR and WebKitGTK show scripts something other than
// Chromium does, for the cases' browser columns run in those engines
// (EngineRunner, `make faults-engines`). Each entry replaces the case's
// Browser in that engine; the client reports what the engine showed it,
// and Why says what the engine hides or does. Found by running every case
// four times in each engine: every entry held in all four.
func init() {
	byName := map[string]*Case{}
	for _, c := range Cases {
		byName[c.Name] = c
	}
	set := func(name string, firefox, webkit *Browser) {
		c := byName[name]
		if c == nil {
			panic(fmt.Sprintf("faults: engine override for unknown case %q", name))
		}
		c.Browser.Firefox, c.Browser.WebKit = firefox, webkit
	}
	// keepsSocket is base with the socket abandoned: the engine keeps the
	// socket of this failed handshake open after the client's close(),
	// and a script cannot abort it.
	keepsSocket := func(base Browser, engine string) *Browser {
		why := engine + " keeps the socket of this failed handshake open (the client's close() or the engine's own failure of it does not end it), and scripts cannot abort it"
		if base.Why != "" {
			why += "; " + base.Why
		}
		base.Abandons, base.Why = true, why
		return &base
	}
	for _, name := range []string{"hs-never-answered", "hs-trickle-1-byte-per-second", "hs-garbage"} {
		set(name, keepsSocket(byName[name].Browser, "Firefox"), nil)
	}
	set("hs-401-keep-alive", keepsSocket(browserFails(), "Firefox"), keepsSocket(browserFails(), "WebKit"))
	for _, name := range []string{"hs-403-keep-alive", "hs-503-keep-alive", "hs-200-keep-alive"} {
		set(name, nil, keepsSocket(browserFails(), "WebKit"))
	}
	set("hs-redirect-302", nil, &Browser{NA: "WebKit follows the redirect and opens on the redirected URL (Fetch says a WebSocket handshake must not), and the open event does not show it"})

	masked := &Browser{NA: "Firefox delivers a frame the server masked as an ordinary message (RFC 6455 5.1 says fail the connection); scripts cannot see the mask bit"}
	set("fr-masked-frame", masked, nil)
	set("fr-masked-after-message", masked, nil)
	set("fr-length-near-2^63", nil, &Browser{NA: "WebKit neither fails nor reports a frame whose length is near 2^63: no event comes, and ReadLimit sees only whole messages in the browser"})
	set("fr-invalid-utf8-split",
		&Browser{Why: "Firefox sends no close frame when it fails a connection", Want: &Want{Trace: dropped, Messages: 0, ServerSaw: -1}},
		&Browser{Why: "WebKit sends 1007, as the native client does"})

	// A close frame with 1005, or with a 1-byte payload, is a clean 1005
	// in Firefox: the same event as an empty close frame, which is valid.
	peer1005 := &Browser{
		Why:  "Firefox reports this close frame as an empty one: a clean 1005, which a script cannot tell from a valid close without a code",
		Want: &Want{Trace: peerClosedOK(1005), Messages: 0, ServerSaw: 1005},
	}
	set("cl-code-1005-on-wire", peer1005, nil)
	set("cl-1-byte-payload", peer1005, nil)
	// Firefox and WebKit ignore a data frame after the close frame, as the
	// native client does.
	native := &Browser{Why: "this engine reports what the native client reports"}
	set("cl-data-after-close", native, native)
	set("cl-close-then-keep-tcp", nil, &Browser{
		Why:  "WebKit waits about 5 s, not Chromium's 2, for the server's end of TCP before its close event",
		Want: &Want{Trace: peerClosedOK(4000), Reason: "bye", Messages: 0, ServerSaw: 4000, Within: 10 * time.Second},
	})
	set("cl-close-then-rst", &Browser{Why: "Firefox reports the server's close code with the reset (not clean), as the native client does", Want: &Want{
		Trace: []string{"OPEN>CLOSING 4002 remote", "CLOSING>CLOSED 4002 remote"}, Reason: "bye", Messages: 0}}, nil)
	// Firefox fires a clean close event once the close frames have
	// crossed, without waiting for the server's end of TCP, so a reset
	// after them is not seen.
	crossed := "Firefox reports a clean close as soon as the close frames have crossed, before the server's end of TCP, so the reset after them is not seen"
	set("cl-close-answered-then-rst", &Browser{Why: crossed, Want: &Want{
		Trace: peerClosedOK(4003), Reason: "bye", Messages: 0, ServerSaw: 4003}}, nil)
	set("cl-client-close-answered-then-rst", &Browser{Why: crossed, Want: &Want{
		Trace: []string{"OPEN>CLOSING 1000", "CLOSING>CLOSED 1000 clean"}, Messages: 0, ServerSaw: 1000, Check: closeReturnedNil}}, nil)
	set("cl-client-close-answered-keep-tcp", &Browser{Why: "Firefox reports the server's answer without waiting for its end of TCP, as the native client does"}, nil)

	// WebKit's bufferedAmount drops to 0 once its network process holds
	// the bytes, so a Send is never held by the 4 MiB window: it returns
	// nil at once. The close that follows still times out, and Close
	// returns within CloseTimeout.
	held := "WebKit's bufferedAmount drops to 0 once its network process holds the bytes, so the Send returns at once, nil, and is not there for a deadline or a Close to end; the close still times out"
	sentAtOnce := func(o *Observation) []string {
		if o.SendErr != nil {
			return []string{fmt.Sprintf("Send returned %v, want nil (WebKit took the message at once)", o.SendErr)}
		}
		return nil
	}
	for _, name := range []string{"rs-100MB-send-deadline", "rs-100MB-send-close-from-other-goroutine"} {
		base := byName[name].Browser
		set(name, nil, &Browser{Program: base.Program, Abandons: true, Why: held,
			Want: &Want{Trace: []string{"OPEN>CLOSING 1000", "CLOSING>CLOSED 1006"}, Reason: "close timeout", Messages: 0, Within: 10 * time.Second,
				Check: sentAtOnce}})
	}
}
