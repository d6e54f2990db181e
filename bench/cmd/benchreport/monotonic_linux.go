package main

import (
	"syscall"
	"unsafe"
)

// monotonicSeconds reads CLOCK_MONOTONIC, the clock of `perf record -k 1`
// and of JSC's JIT dump.
func monotonicSeconds() float64 {
	var ts syscall.Timespec
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 1, uintptr(unsafe.Pointer(&ts)), 0) // 1: CLOCK_MONOTONIC
	return float64(ts.Sec) + float64(ts.Nsec)/1e9
}
