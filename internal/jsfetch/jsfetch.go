//go:build js && wasm

// Package jsfetch is an HTTP GET with the browser's fetch, for the wasm
// programs of the repository (the scenario harness, the demo page).
package jsfetch

import (
	"context"
	"errors"
	"strconv"
	"syscall/js"
)

// Get fetches url (no cache) and returns the body of a 2xx response. The
// callbacks only hand results to a channel; they never block. When ctx
// ends first, Get still waits for the fetch, so that no callback runs
// after its release.
func Get(ctx context.Context, url string) ([]byte, error) {
	type result struct {
		body []byte
		err  error
	}
	ch := make(chan result, 1)
	var onBody, onResp, onErr js.Func
	onErr = js.FuncOf(func(_ js.Value, args []js.Value) any {
		msg := "fetch failed"
		if len(args) > 0 {
			msg = args[0].Call("toString").String()
		}
		ch <- result{err: errors.New(msg)}
		return nil
	})
	onBody = js.FuncOf(func(_ js.Value, args []js.Value) any {
		arr := js.Global().Get("Uint8Array").New(args[0])
		b := make([]byte, arr.Length())
		js.CopyBytesToGo(b, arr)
		ch <- result{body: b}
		return nil
	})
	onResp = js.FuncOf(func(_ js.Value, args []js.Value) any {
		resp := args[0]
		if !resp.Get("ok").Bool() {
			ch <- result{err: errors.New("GET " + url + ": HTTP " + strconv.Itoa(resp.Get("status").Int()))}
			return nil
		}
		resp.Call("arrayBuffer").Call("then", onBody, onErr)
		return nil
	})
	defer onErr.Release()
	defer onBody.Release()
	defer onResp.Release()
	js.Global().Call("fetch", url, map[string]any{"cache": "no-store"}).Call("then", onResp, onErr)
	select {
	case res := <-ch:
		return res.body, res.err
	case <-ctx.Done():
		if res := <-ch; res.err != nil {
			return nil, res.err
		}
		return nil, ctx.Err()
	}
}
