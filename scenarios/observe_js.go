//go:build js && wasm

package scenarios

import (
	"context"
	"errors"
	"fmt"
	"math"
	"syscall/js"
)

// httpGet fetches rawURL with the browser's fetch. The callbacks only hand
// results to a channel; they never block.
func httpGet(ctx context.Context, rawURL string) ([]byte, error) {
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
			ch <- result{err: fmt.Errorf("GET %s: HTTP %d", rawURL, resp.Get("status").Int())}
			return nil
		}
		resp.Call("arrayBuffer").Call("then", onBody, onErr)
		return nil
	})
	defer onErr.Release()
	defer onBody.Release()
	defer onResp.Release()
	js.Global().Call("fetch", rawURL, map[string]any{"cache": "no-store"}).Call("then", onResp, onErr)
	select {
	case res := <-ch:
		return res.body, res.err
	case <-ctx.Done():
		// The callbacks are released on return; wait for the fetch so that
		// they are not called afterwards.
		res := <-ch
		if res.err != nil {
			return nil, res.err
		}
		return nil, ctx.Err()
	}
}

// RefusedURL is not available in the browser, which cannot open a port.
func RefusedURL() (string, error) {
	return "", errors.New("the browser cannot find a free port; pass Config.RefusedURL")
}

var performance = js.Global().Get("performance")

// wallNow is the wall clock in Unix nanoseconds, from
// performance.timeOrigin + performance.now(): Go's own wall clock in
// js/wasm (Date.now) has whole milliseconds only. Chromium coarsens both
// to 100 µs.
func wallNow() int64 {
	ms := performance.Get("timeOrigin").Float() + performance.Call("now").Float()
	return int64(math.Round(ms * 1e6))
}
