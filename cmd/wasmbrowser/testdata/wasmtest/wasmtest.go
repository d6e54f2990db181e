// Package wasmtest is the js/wasm test binary that cmd/wasmbrowser's tests
// run in a browser; each test is selected with -test.run.
package wasmtest

// Double is covered by TestCover; Unused is not.
func Double(n int) int { return 2 * n }

// Unused is never called.
func Unused(n int) int { return n - 1 }
