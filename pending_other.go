//go:build !linux && !js

package dualws

import "syscall"

// socketPending is 0 where dualws does not ask the kernel: a Send then
// only waits for a reader that is busy, not for bytes it has not read.
func socketPending(syscall.RawConn) int { return 0 }

// socketEnd does not ask the kernel here: the end is awaited with a read.
func socketEnd(syscall.RawConn) (reset, known bool) { return false, false }

// socketBytes does not ask the kernel here.
func socketBytes(syscall.RawConn) (n, rcvbuf int, known bool) { return 0, 0, false }
