//go:build js && wasm

package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"syscall/js"
	"time"

	"github.com/dualws/dualws/scenarios"
)

// The remote mode lets a browser started without a driver (engine.Launch)
// run scenarios for the Go process that serves the page. Loaded with
//
//	?post=PATH&token=T
//
// the harness POSTs to PATH (a path on the page's own origin; anything
// else leaves remote mode off) a JSON report
//
//	{"token": T, "trace": <the previous trace, or null>, "agent": navigator.userAgent}
//
// and the reply says what to do next:
//
//	{"run": NAME, "config": {"BaseURL": ..., "RefusedURL": ..., "NodeWSURL": ...}}
//	{"reload": true}  load the page again (a fresh instance), then ask again
//	{"done": true}    stop asking
//
// So the serving process hands out one scenario at a time, in its own
// order, and sees at once which scenario a page that stops answering was
// running. Scenarios run one after another, never in parallel.

// remotePostTimeout bounds one POST; the server holds a POST open while it
// has no scenario to hand out yet (for example while the native run of the
// same scenario is in progress), so it is long.
const remotePostTimeout = 10 * time.Minute

// remoteParams returns the post path and token of the page's query, or ok
// false when the page was not loaded in remote mode.
func remoteParams() (post, token string, ok bool) {
	q, err := url.ParseQuery(trimQ(js.Global().Get("location").Get("search").String()))
	if err != nil {
		return "", "", false
	}
	post, token = q.Get("post"), q.Get("token")
	// Only a path on the page's own origin: traces go back to whoever
	// served the page, never elsewhere.
	if !strings.HasPrefix(post, "/") || strings.HasPrefix(post, "//") || strings.Contains(post, "\\") {
		return "", "", false
	}
	return post, token, token != ""
}

func trimQ(s string) string {
	if len(s) > 0 && s[0] == '?' {
		return s[1:]
	}
	return s
}

// remoteLoop asks for scenarios and runs them until told to stop or
// reload. A failed POST is retried a few times, then the loop gives up
// (the server has gone).
func remoteLoop(post, token string) {
	agent := js.Global().Get("navigator").Get("userAgent").String()
	var last *scenarios.Trace
	for {
		raw, err := json.Marshal(scenarios.RemoteReport{Token: token, Trace: last, Agent: agent})
		if err != nil {
			// A Trace always encodes; keep the report going regardless.
			raw = []byte(`{"token":` + quote(token) + `,"trace":{"scenario":"?","failure":"encoding the trace failed","close_detect_ms":-1}}`)
		}
		var body []byte
		for attempt := 0; ; attempt++ {
			body, err = postJSON(post, raw)
			if err == nil || attempt == 2 {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			js.Global().Get("console").Call("error", "dualws harness: posting to "+post+": "+err.Error())
			return
		}
		var rep scenarios.RemoteReply
		if err := json.Unmarshal(body, &rep); err != nil {
			js.Global().Get("console").Call("error", "dualws harness: bad reply: "+err.Error())
			return
		}
		switch {
		case rep.Done:
			return
		case rep.Reload:
			js.Global().Get("location").Call("reload")
			return
		}
		tr := scenarios.RunConfig(context.Background(), rep.Run, rep.Config)
		last = &tr
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// postJSON POSTs body to path with the browser's fetch and returns the
// reply's body. The callbacks only hand results to a channel.
func postJSON(path string, body []byte) ([]byte, error) {
	type result struct {
		body []byte
		err  error
	}
	ch := make(chan result, 1)
	done := func(r result) {
		select {
		case ch <- r:
		default:
		}
	}
	var onBody, onResp, onErr js.Func
	onErr = js.FuncOf(func(_ js.Value, args []js.Value) any {
		msg := "fetch failed"
		if len(args) > 0 {
			msg = args[0].Call("toString").String()
		}
		done(result{err: errors.New(msg)})
		return nil
	})
	onBody = js.FuncOf(func(_ js.Value, args []js.Value) any {
		done(result{body: []byte(args[0].String())})
		return nil
	})
	onResp = js.FuncOf(func(_ js.Value, args []js.Value) any {
		resp := args[0]
		if !resp.Get("ok").Bool() {
			done(result{err: errors.New("HTTP " + resp.Get("status").Call("toString").String())})
			return nil
		}
		resp.Call("text").Call("then", onBody, onErr)
		return nil
	})
	js.Global().Call("fetch", path, map[string]any{
		"method":  "POST",
		"body":    string(body),
		"cache":   "no-store",
		"headers": map[string]any{"Content-Type": "application/json"},
	}).Call("then", onResp, onErr)
	select {
	case r := <-ch:
		onErr.Release()
		onBody.Release()
		onResp.Release()
		return r.body, r.err
	case <-time.After(remotePostTimeout):
		// The callbacks stay registered until the fetch settles; releasing
		// them would make a late settle throw. Leak them instead: the page
		// gives up after this.
		return nil, errors.New("no reply within " + remotePostTimeout.String())
	}
}
