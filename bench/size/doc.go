// Package size holds the minimal programs whose js/wasm bundle sizes
// BENCHMARKS.md compares: each dials, sends one message, receives one and
// closes, with dualws (dualws/), coder/websocket (coder/) and the browser's
// WebSocket called directly through syscall/js (floor/), the smallest a
// Go program doing this can be.
package size
