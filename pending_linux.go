//go:build linux

package dualws

import (
	"syscall"
	"unsafe"
)

// socketPending returns how many bytes wait in the socket's receive buffer
// (FIONREAD), 1 when none wait but the peer's FIN or a reset has arrived
// (the reader has an end to see), and 0 otherwise or when raw is nil. The
// common case, nothing pending, costs one recv with MSG_PEEK. failed
// reports that the peek returned the socket's error (a reset): the kernel
// reports it once, so the reader's next Read sees only an end, and the
// caller must keep it.
func socketPending(raw syscall.RawConn) (n int, failed bool) {
	if raw == nil {
		return 0, false
	}
	raw.Control(func(fd uintptr) {
		var b [1]byte
		got, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == syscall.EAGAIN || err == syscall.EINTR:
		case err != nil:
			n, failed = 1, true
		case got == 0:
			n = 1
		default:
			var v int32
			n = 1
			if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&v))); errno == 0 && v > 0 {
				n = int(v)
			}
		}
	})
	return n, failed
}

// socketEnd reports, with one read that does not wait, how the peer has
// ended the socket: after its FIN (reset false) or with a reset (reset
// true). known is false when nothing has come yet, when data came (read
// and discarded: nothing is read after a close frame; a peer that keeps
// sending is left to a read with a deadline), or when raw is nil.
func socketEnd(raw syscall.RawConn) (reset, known bool) {
	if raw == nil {
		return false, false
	}
	raw.Control(func(fd uintptr) {
		var b [256]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_DONTWAIT)
		for err == syscall.EINTR {
			n, _, err = syscall.Recvfrom(int(fd), b[:], syscall.MSG_DONTWAIT)
		}
		switch {
		case err == syscall.EAGAIN || err == nil && n > 0:
		case err != nil:
			reset, known = true, true
		default:
			known = true
		}
	})
	return reset, known
}
