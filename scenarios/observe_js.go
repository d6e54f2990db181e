//go:build js && wasm

package scenarios

import (
	"context"
	"errors"
	"math"
	"syscall/js"

	"github.com/dualws/dualws/internal/jsfetch"
)

// httpGet fetches rawURL with the browser's fetch.
func httpGet(ctx context.Context, rawURL string) ([]byte, error) {
	return jsfetch.Get(ctx, rawURL)
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
