//go:build !linux

package main

// monotonicSeconds is Linux-only (perf is too); elsewhere the WebKit
// profile cannot be taken.
func monotonicSeconds() float64 { return 0 }
