package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dualws/dualws/testserver/server"
)

func TestFlakyDropThenPingPong(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	ctx := ctxT(t)
	for i := 0; i < 2; i++ {
		_, resp, err := e.dialOpts(t, "/ws/flaky?id=f1&n=2&how=drop", nil)
		require.Error(t, err, "connection %d", i+1)
		assert.Nil(t, resp, "dropped before any response")
	}
	c := e.dial(t, "/ws/flaky?id=f1&n=2&how=drop")
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte("ping")))
	_, data, err := c.Read(ctx)
	require.NoError(t, err)
	assert.Equal(t, "pong", string(data))
	require.NoError(t, c.Write(ctx, websocket.MessageBinary, []byte("x")))
	typ, data, err := c.Read(ctx)
	require.NoError(t, err)
	assert.Equal(t, websocket.MessageBinary, typ)
	assert.Equal(t, "x", string(data))
	c.Close(websocket.StatusNormalClosure, "")

	status, body := e.get(t, "/redial?do=count&id=f1")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "3", string(body))
	// Another id counts from zero.
	_, _, err = e.dialOpts(t, "/ws/flaky?id=f2&n=1&how=drop", nil)
	require.Error(t, err)
}

func TestFlakyStatusAndClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	ctx := ctxT(t)
	for i := 0; i < 2; i++ {
		_, resp, err := e.dialOpts(t, "/ws/flaky?id=s&n=2&how=status&status=503", nil)
		require.Error(t, err)
		require.NotNil(t, resp)
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	}
	e.dial(t, "/ws/flaky?id=s&n=2&how=status&status=503").Close(websocket.StatusNormalClosure, "")

	c := e.dial(t, "/ws/flaky?id=c&n=1&how=close")
	_, _, err := c.Read(ctx)
	assert.Equal(t, websocket.StatusServiceRestart, closeError(t, err).Code, "1012 by default")
	c = e.dial(t, "/ws/flaky?id=c8&n=5&how=close&code=1008&reason=no")
	_, _, err = c.Read(ctx)
	ce := closeError(t, err)
	assert.Equal(t, websocket.StatusPolicyViolation, ce.Code)
	assert.Equal(t, "no", ce.Reason)
}

func TestFlakyBadParameters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	for _, q := range []string{"?id=x&n=1", "?id=x&how=nope", "?n=2&how=drop", "?id=x&how=status&status=101", "?id=x&how=close&code=1006"} {
		status, _ := e.get(t, "/ws/flaky"+q)
		assert.Equal(t, http.StatusBadRequest, status, q)
	}
	for _, q := range []string{"?id=x&do=nope", "?id=x&do=listen&ttl=601", "?do=count", "?id=nolistener&do=down", "?id=nolistener&do=up"} {
		status, _ := e.get(t, "/redial"+q)
		assert.Equal(t, http.StatusBadRequest, status, q)
	}
}

func TestBlackholeNeverAnswers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	ctx := ctxT(t)
	c := e.dial(t, "/ws/blackhole?id=bh")
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte("ping")))
	pctx, cancel := ctxWithTimeout(t, 200*time.Millisecond)
	defer cancel()
	assert.Error(t, c.Ping(pctx), "no pong from a blackhole")
	c.CloseNow()
	lines := e.logs.waitEnded(t, "bh", 1)
	assert.Contains(t, lines[0], "blackhole ended")
}

func TestRedialListenerRestartsOnTheSamePort(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	ctx := ctxT(t)
	status, body := e.get(t, "/redial?do=listen&id=r")
	require.Equal(t, http.StatusOK, status, string(body))
	addr := string(body)
	require.True(t, strings.HasPrefix(addr, "127.0.0.1:"), addr)
	status, _ = e.get(t, "/redial?do=listen&id=r")
	assert.Equal(t, http.StatusBadRequest, status, "one listener per id")

	dial := func() (*websocket.Conn, error) {
		c, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws/echo?id=r", nil)
		if c != nil {
			t.Cleanup(func() { c.CloseNow() })
		}
		return c, err
	}
	c, err := dial()
	require.NoError(t, err)
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte("before")))
	_, data, err := c.Read(ctx)
	require.NoError(t, err)
	assert.Equal(t, "before", string(data))

	status, _ = e.get(t, "/redial?do=down&id=r")
	require.Equal(t, http.StatusOK, status)
	_, _, err = c.Read(ctx)
	assertDropped(t, err)
	_, err = dial()
	require.Error(t, err, "nothing listens while down")
	assert.Contains(t, err.Error(), "refused")

	status, _ = e.get(t, "/redial?do=up&id=r")
	require.Equal(t, http.StatusOK, status)
	c, err = dial()
	require.NoError(t, err, "listening again on %s", addr)
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte("after")))
	_, data, err = c.Read(ctx)
	require.NoError(t, err)
	assert.Equal(t, "after", string(data))
	// Server.Close (in the cleanup) closes the listener and this connection.
}

func ctxWithTimeout(t *testing.T, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctxT(t), d)
}
