// Package dualws is a WebSocket client with one API natively and in the
// browser (GOOS=js GOARCH=wasm), whose state does not lie.
//
// The client always reads in the background, so a peer's close is seen
// without the application calling Receive. Its states are the browser's
// readyState numbers: Connecting, Open, Closing, Closed. Once a close frame
// has been sent or received, Send sends nothing and returns a *CloseError
// carrying the close code and reason (errors.Is(err, ErrClosed)): no
// message is silently dropped after the server closed.
//
// Natively the client runs on github.com/coder/websocket; in the browser on
// the page's WebSocket through syscall/js, without fmt or net/http in the
// bundle. The same rules hold on both; where a platform cannot follow one,
// the method's documentation says so. In the browser, call Dial, Send,
// Receive and Close from goroutines, never from js.Func callbacks: they
// wait for the browser's event loop, which runs only while every goroutine
// is blocked.
package dualws
