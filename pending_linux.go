//go:build linux

package dualws

import (
	"net"
	"syscall"
	"unsafe"
)

// socketPending returns how many bytes wait in c's receive buffer
// (FIONREAD), 1 when none wait but the peer's FIN or a reset has arrived
// (the reader has an end to see), and 0 otherwise or when c is no socket.
func socketPending(c net.Conn) int {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	raw.Control(func(fd uintptr) {
		var v int32
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&v))); errno == 0 && v > 0 {
			n = int(v)
			return
		}
		var b [1]byte
		got, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if (got == 0 && err == nil) || (err != nil && err != syscall.EAGAIN) {
			n = 1
		}
	})
	return n
}
