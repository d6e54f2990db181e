//go:build linux

package main

import (
	"net"
	"syscall"
	"unsafe"
)

// soMaxPacingRate is SO_MAX_PACING_RATE (asm-generic/socket.h), which
// package syscall does not name.
const soMaxPacingRate = 47

// setPacing caps the rate, in bytes per second, at which the kernel sends
// from c's socket; 0 leaves it alone.
func setPacing(c net.Conn, rate int) error {
	if rate <= 0 {
		return nil
	}
	var serr error
	err := control(c, func(fd int) {
		serr = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, soMaxPacingRate, rate)
	})
	if err != nil {
		return err
	}
	return serr
}

// unsent returns how many bytes c's socket holds that the peer has not
// acknowledged (SIOCOUTQ), or -1 when it cannot tell.
func unsent(c net.Conn) int {
	n := -1
	control(c, func(fd int) {
		var v int32
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&v))); e == 0 {
			n = int(v)
		}
	})
	return n
}

// control runs f with c's file descriptor.
func control(c net.Conn, f func(fd int)) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return syscall.EINVAL
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Control(func(fd uintptr) { f(int(fd)) })
}
