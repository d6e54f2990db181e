//go:build !js

package dualws

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/coder/websocket"
)

// memConn is an upgraded connection in memory: writes are discarded and
// reads wait until it is closed. It isolates the CPU a Send costs above
// the socket.
type memConn struct {
	once   sync.Once
	closed chan struct{}
}

func (m *memConn) Read([]byte) (int, error)    { <-m.closed; return 0, io.EOF }
func (m *memConn) Write(p []byte) (int, error) { return len(p), nil }
func (m *memConn) Close() error                { m.once.Do(func() { close(m.closed) }); return nil }

// memClient answers every handshake with a 101 over a new memConn.
func memClient() *http.Client {
	return &http.Client{Transport: roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		h := http.Header{}
		h.Set("Upgrade", "websocket")
		h.Set("Connection", "Upgrade")
		h.Set("Sec-WebSocket-Accept", acceptFor(r.Header.Get("Sec-WebSocket-Key")))
		return &http.Response{StatusCode: http.StatusSwitchingProtocols, Header: h, Body: &memConn{closed: make(chan struct{})}, Request: r}, nil
	})}
}

// BenchmarkSendOverhead compares a Send with coder/websocket's own Write
// on a connection whose writes cost nothing, so the difference is the CPU
// dualws adds per Send (except the socket poll of the close check, which
// needs a real socket: one ppoll per closeCheckSends Sends).
func BenchmarkSendOverhead(b *testing.B) {
	msg := make([]byte, 32)
	ctx := context.Background()
	b.Run("dualws", func(b *testing.B) {
		c, err := Dial(ctx, "ws://mem.invalid/", &Options{HTTPClient: memClient(), PingInterval: -1})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := c.Send(ctx, Binary, msg); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		c.t.abort(false, closeFrame{})
		<-c.Done()
	})
	b.Run("coder", func(b *testing.B) {
		ws, _, err := websocket.Dial(ctx, "ws://mem.invalid/", &websocket.DialOptions{HTTPClient: memClient(), CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := ws.Write(ctx, websocket.MessageBinary, msg); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		ws.CloseNow()
	})
}
