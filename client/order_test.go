package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

// With -json, a Send in progress holds the printing of what arrives, not
// the receiving of it: a peer that writes 16 MiB before it reads the
// client's 8 MiB line is read meanwhile. Blocking the receive loop for the
// Send filled the client's receive queue, which stopped its reading, and
// both sides waited for each other.
func TestJSONLongSendWhileThePeerWritesFirst(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(16 << 20)
		chunk := make([]byte, 64<<10)
		for range 256 {
			if c.Write(r.Context(), websocket.MessageBinary, chunk) != nil {
				return
			}
		}
		if _, _, err := c.Read(r.Context()); err != nil {
			return
		}
		c.Close(websocket.StatusNormalClosure, "")
	}))
	defer ts.Close()
	s := start(t, "-json", "ws"+strings.TrimPrefix(ts.URL, "http"))
	go func() {
		io.WriteString(s.stdin, strings.Repeat("x", 8<<20)+"\n")
	}()
	s.expectExit(t, exitClean)
	out := s.stdout.String()
	if n := strings.Count(out, `"event":"message"`); n != 256 {
		t.Errorf("%d messages printed, want 256", n)
	}
	if !strings.Contains(out, `"event":"sent"`) {
		t.Error("no sent event")
	}
}
