//go:build linux

package dualws

import (
	"syscall"
	"testing"
	"unsafe"
)

const tcpEstablished = 1 // TCP_ESTABLISHED in tcpi_state

// tcpState returns the socket's TCP state (tcpi_state of TCP_INFO), which,
// unlike a read or SO_ERROR, does not consume a pending reset.
func tcpState(t *testing.T, raw syscall.RawConn) uint8 {
	t.Helper()
	var info [232]byte // struct tcp_info; tcpi_state is its first byte
	var errno syscall.Errno
	raw.Control(func(fd uintptr) {
		n := uint32(len(info))
		_, _, errno = syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_INFO,
			uintptr(unsafe.Pointer(&info[0])), uintptr(unsafe.Pointer(&n)), 0)
	})
	if errno != 0 {
		t.Fatalf("TCP_INFO: %v", errno)
	}
	return info[0]
}

// socketSendQueue returns the bytes waiting in the socket's send queue
// (SIOCOUTQ).
func socketSendQueue(t *testing.T, raw syscall.RawConn) int {
	t.Helper()
	var v int32
	raw.Control(func(fd uintptr) {
		syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&v)))
	})
	return int(v)
}
