package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seedOutcome is what a plain coder/websocket client sees of /ws/seed, and
// what the server recorded.
type seedOutcome struct {
	Received  []string
	CloseCode int // -1 when the connection ended without a close frame
	Ended     string
	Messages  int
}

// runSeedEndpoint dials /ws/seed at base with before (which may carry more
// parameters after "?") and end, sends
// "first" when before is echo, reads until the end and returns the outcome.
func runSeedEndpoint(t *testing.T, base, id, before, end string) seedOutcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	q := url.Values{"end": {end}, "code": {"4000"}, "reason": {"seed"}, "id": {id}}
	before, extra, _ := strings.Cut(before, "?") // burst?n=N&size=S
	q.Set("before", before)
	more, err := url.ParseQuery(extra)
	require.NoError(t, err)
	for k, v := range more {
		q[k] = v
	}
	start := time.Now().UnixNano()
	c, _, err := websocket.Dial(ctx, base+"/ws/seed?"+q.Encode(), nil)
	require.NoError(t, err)
	defer c.CloseNow()
	dialed := time.Now().UnixNano()
	if before == "echo" {
		require.NoError(t, c.Write(ctx, websocket.MessageText, []byte("first")))
	}
	var out seedOutcome
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			out.CloseCode = int(websocket.CloseStatus(err))
			if out.CloseCode == -1 {
				assert.False(t, errors.Is(err, context.DeadlineExceeded), "the server never ended: %v", err)
			}
			break
		}
		out.Received = append(out.Received, string(data))
	}
	var o struct {
		Messages          int
		OpenedAt, EndedAt int64
		Ended             string
	}
	for range 100 { // the server records its end right after the write returned
		resp, err := http.Get("http" + strings.TrimPrefix(base, "ws") + "/observed?id=" + url.QueryEscape(id))
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, "*", resp.Header.Get("Access-Control-Allow-Origin"), "the browser harness reads /observed across origins")
		require.NoError(t, json.Unmarshal(body, &o), string(body))
		if o.EndedAt != 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	assert.GreaterOrEqual(t, o.OpenedAt, start-int64(time.Millisecond), "OpenedAt before the Dial")
	assert.LessOrEqual(t, o.OpenedAt, dialed+int64(time.Millisecond), "OpenedAt after the Dial")
	assert.GreaterOrEqual(t, o.EndedAt, o.OpenedAt, "EndedAt before OpenedAt")
	// Node's clock (performance.timeOrigin + performance.now()) runs up
	// to about 0.1 ms off Go's wall clock, so every bound allows 1 ms.
	assert.LessOrEqual(t, o.EndedAt, time.Now().UnixNano()+int64(time.Millisecond), "EndedAt in the future")
	out.Ended, out.Messages = o.Ended, o.Messages
	return out
}

// TestSeedServersAgree checks that the Go scenario server and the Node ws
// server play every /ws/seed behaviour alike, so that the seed matrix's
// cells mean the same against both.
func TestSeedServersAgree(t *testing.T) {
	want := map[string]seedOutcome{
		"echo/close":             {Received: []string{"first"}, CloseCode: 4000, Ended: "close", Messages: 1},
		"echo/drop":              {Received: []string{"first"}, CloseCode: -1, Ended: "drop", Messages: 1},
		"push/close":             {Received: []string{"first"}, CloseCode: 4000, Ended: "close"},
		"push/drop":              {Received: []string{"first"}, CloseCode: -1, Ended: "drop"},
		"burst/close":            {Received: []string{"1", "2", "3"}, CloseCode: 4000, Ended: "close"},
		"burst/drop":             {Received: []string{"1", "2", "3"}, CloseCode: -1, Ended: "drop"},
		"none/close":             {CloseCode: 4000, Ended: "close"},
		"burst?n=2&size=5/close": {Received: []string{"1xxxx", "2xxxx"}, CloseCode: 4000, Ended: "close"},
		"echo?delay=20/drop":     {Received: []string{"first"}, CloseCode: -1, Ended: "drop", Messages: 1},
		"none/drop":              {CloseCode: -1, Ended: "drop"},
	}
	for _, srv := range []struct{ name, base string }{{"go", env.BaseURL}, {"nodews", env.NodeWSURL}} {
		for key, w := range want {
			before, end, _ := strings.Cut(key, "/")
			t.Run(srv.name+"/"+key, func(t *testing.T) {
				got := runSeedEndpoint(t, srv.base, "agree-"+srv.name+"-"+before+"-"+end+"-"+t.Name(), before, end)
				assert.Equal(t, w, got)
			})
		}
		t.Run(srv.name+"/bad-parameters", func(t *testing.T) {
			for _, q := range []string{"before=x&end=close", "before=echo&end=x", "before=echo&end=close&code=1006", "before=burst&end=close&n=0", "before=burst&end=close&size=-1", "before=echo&end=close&delay=-1"} {
				_, resp, err := websocket.Dial(t.Context(), srv.base+"/ws/seed?"+q, nil)
				require.Error(t, err, q)
				require.NotNil(t, resp, q)
				assert.Equal(t, http.StatusBadRequest, resp.StatusCode, q)
			}
		})
	}
}
