// Package server implements the dualws scenario server: an http.Handler
// whose WebSocket endpoints each play one scripted server behaviour, so
// that the dualws client can be tested natively and in the browser against
// the same peer.
//
// Every WebSocket endpoint accepts id=X. What the client sends on
// connections carrying an id (its close frame, pongs, data messages) is
// recorded from the bytes on the wire and can be read with Server.Observed
// or GET /observed?id=X (the Observation as JSON, field names as in Go).
// A scenario's observation is complete once its connection has ended; the
// server logs one line per connection at that point.
//
// Endpoints (query parameters in brackets, defaults after =):
//
//	/ws/echo [as=]            echo every data message with its type until the client closes
//	                          (as=binary: every message comes back binary; Go server only)
//	/ws/close [after=1 code=1000 reason=]
//	                          echo after messages, then close with code and reason
//	                          (code 1005 sends a close frame without a code)
//	/ws/burst [n=10 size=0 every=0 code=1000 reason=]
//	                          send n text messages BurstMessage(1..n, size), then close at once
//	/ws/drop [after=0]        echo after messages, then close TCP without a close frame
//	/ws/dropfragment          send a text frame with FIN=0 ("first fragment"), then close TCP
//	/ws/noclose [answer=0]    read and discard frames; never answer a close frame or a
//	                          ping, never close TCP (until the client leaves or 30 s);
//	                          answer=1: answer the client's close frame, then hold the
//	                          connection unread, TCP open, whatever the client does
//	/ws/reject [status=403]   refuse the handshake with that HTTP status
//	/ws/stall                 never answer the HTTP request (until the client leaves or 30 s)
//	/ws/big [size=1048576 type=binary|text]
//	                          send one message BigPayload(size, type == binary), then echo
//	/ws/badutf8               send a text frame with BadUTF8Payload, wait for the client's
//	                          close frame, answer it with the same code, close TCP
//	/ws/subprotocol           only for clients offering "v2" (others get 400), then echo
//	/ws/ping [n=3]            send n pings, then the text "pongs=<count>", then close 1000
//	/ws/pongclose             send a pong ("unsolicited"), then a close frame with an empty
//	                          payload; read the client's answer and close TCP
//	/ws/seed before=echo|push|burst|none end=close|drop [code=1000 reason=]
//	                          the server of the seed matrix: echo one message, or send
//	                          "first", or send "1", "2", "3", or nothing; then write a close
//	                          frame (and read until the client's) or close TCP. It records
//	                          OpenedAt and EndedAt (Unix ns) in the observation
//
// The seed matrix also runs against testserver/nodews, a Node server on the
// npm ws package that serves /ws/echo, /ws/seed and /observed the same way.
// Bad parameters are refused with 400 before the handshake. Other routes:
// GET /wasm_exec.js serves the glue file of the Go that runs the server,
// GET /observed?id=X, and the files of Options.StaticDir at / (no-store,
// with Content-Security-Policy: ContentSecurityPolicy, which forbids
// inline scripts and eval).
//
// The endpoints built on github.com/coder/websocket accept any origin and
// never negotiate compression; dropfragment, noclose, badutf8 and
// pongclose and seed speak raw RFC 6455 frames on a hijacked connection.
package server
