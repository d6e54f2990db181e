//go:build !linux

package dualws

import (
	"context"
	"sync/atomic"
)

// pollWait is empty: natively elsewhere than on Linux, and in the
// browser, Receive waits on the client's channels (pollwake_linux.go).
type pollWait struct{}

// pollWakes is false: the client's calls below compile away, in the
// browser's bundle too.
const pollWakes = false

// pollWaits reports false: Receive waits on channels.
func pollWaits(*Client, context.Context) (bool, error) { return false, nil }

// pollWoken does nothing: there is no waker.
func pollWoken(*Client) {}

// pollWake does nothing: there is no waker.
func pollWake(*Client, bool, bool) {}

// pollConns counts open native connections, for Linux's waker.
var pollConns atomic.Int32

// pollNudge does nothing: there is no waker.
func pollNudge(*pollWait) {}
