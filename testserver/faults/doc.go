// Package faults is dualws's fault suite: a raw-TCP server that performs
// the WebSocket upgrade by hand and then misbehaves on request, and a
// table of cases, each stating what RFC 6455 or the README promises and
// checking what the client did: its transitions and close status, the
// errors from Dial, Send and Receive, that it reached CLOSED in bounded
// time (a "did not hang" check, not a speed measurement), that no
// goroutine and no socket outlived it, and its peak heap.
//
// The client's side of each case (program.go) compiles for GOOS=js too:
// RunBrowser runs it in headless Chromium (the program in wasm/) against
// the same native server, for the browser column.
//
// The client is driven through dualws's public API only. `make faults`
// runs the table (testserver/faults/cmd/faults); `go test` runs it too.
package faults
