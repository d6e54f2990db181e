package server_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/dualws/dualws/testserver/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSeedEchoClose: the echo comes before the close frame, and the server
// records when it wrote its handshake and its close frame, in that order,
// within the client's view of the connection.
func TestSeedEchoClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	ctx := ctxT(t)
	before := time.Now().UnixNano()
	c := e.dial(t, "/ws/seed?id=seed1&before=echo&end=close&code=4000&reason=bye")
	dialed := time.Now().UnixNano()
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte("first")))
	_, data, err := c.Read(ctx)
	require.NoError(t, err)
	assert.Equal(t, "first", string(data))
	_, _, err = c.Read(ctx)
	ce := closeError(t, err)
	sawClose := time.Now().UnixNano()
	assert.Equal(t, websocket.StatusCode(4000), ce.Code)
	assert.Equal(t, "bye", ce.Reason)
	e.logs.waitEnded(t, "seed1", 1)

	o := e.srv.Observed("seed1")
	assert.Equal(t, "close", o.Ended)
	assert.Equal(t, 1, o.Messages)
	assert.True(t, o.CloseReceived, "coder answered the close frame")
	assert.GreaterOrEqual(t, o.OpenedAt, before)
	assert.LessOrEqual(t, o.OpenedAt, dialed)
	assert.Greater(t, o.EndedAt, o.OpenedAt)
	assert.LessOrEqual(t, o.EndedAt, time.Now().UnixNano())
	t.Logf("close frame recorded %.3f ms before the client returned it", float64(sawClose-o.EndedAt)/1e6)
}

func TestSeedBehaviours(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	ctx := ctxT(t)
	for _, tc := range []struct {
		query string
		want  []string
		drop  bool
	}{
		{"before=push&end=close", []string{"first"}, false},
		{"before=push&end=drop", []string{"first"}, true},
		{"before=burst&end=close", []string{"1", "2", "3"}, false},
		{"before=none&end=close", nil, false},
		{"before=none&end=drop", nil, true},
	} {
		id := "b-" + tc.query
		c := e.dial(t, "/ws/seed?code=4000&id="+url.QueryEscape(id)+"&"+tc.query)
		var got []string
		var err error
		for {
			var data []byte
			if _, data, err = c.Read(ctx); err != nil {
				break
			}
			got = append(got, string(data))
		}
		assert.Equal(t, tc.want, got, tc.query)
		if tc.drop {
			assertDropped(t, err)
		} else {
			assert.Equal(t, websocket.StatusCode(4000), closeError(t, err).Code, tc.query)
		}
		e.logs.waitEnded(t, id, 1)
		o := e.srv.Observed(id)
		assert.NotZero(t, o.EndedAt, tc.query)
		assert.Equal(t, map[bool]string{true: "drop", false: "close"}[tc.drop], o.Ended, tc.query)
	}
}

func TestSeedBadParameters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	for _, q := range []string{"", "before=echo", "before=x&end=close", "before=echo&end=x", "before=none&end=close&code=1006"} {
		_, resp, err := e.dialOpts(t, "/ws/seed?"+q, nil)
		require.Error(t, err, q)
		require.NotNil(t, resp, q)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, q)
	}
}
