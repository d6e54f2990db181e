//go:build !linux && !js

package dualws

import (
	"syscall"
	"testing"
)

const tcpEstablished = 1

// tcpState: only Linux's socketEnd looks at an end that already arrived.
func tcpState(t *testing.T, _ syscall.RawConn) uint8 {
	t.Skip("socketEnd asks the kernel only on Linux")
	return 0
}

func socketSendQueue(t *testing.T, _ syscall.RawConn) int {
	t.Skip("the send queue is read only on Linux")
	return 0
}
