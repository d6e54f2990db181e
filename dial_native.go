//go:build !js

package dualws

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/coder/websocket"
)

// dialWebSocket opens the WebSocket within the handshake timeout and
// returns it with the TCP connection under it.
func dialWebSocket(parent context.Context, url string, cfg *settings) (*websocket.Conn, *trackedConn, error) {
	ctx, cancel := context.WithTimeout(parent, cfg.handshakeTimeout)
	defer cancel()
	var (
		rawMu sync.Mutex
		raw   *trackedConn
	)
	dialer := &net.Dialer{}
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			rawMu.Lock()
			raw = &trackedConn{Conn: conn}
			rawMu.Unlock()
			return raw, nil
		},
		ForceAttemptHTTP2: false,
	}
	ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPClient:      &http.Client{Transport: tr},
		HTTPHeader:      http.Header(cfg.header),
		Subprotocols:    cfg.subprotocols,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		return nil, nil, classifyDialError(parent, ctx.Err() != nil, url, resp, err)
	}
	rawMu.Lock()
	defer rawMu.Unlock()
	if raw == nil {
		// Not expected: the transport always dials through DialContext.
		ws.CloseNow()
		return nil, nil, &DialError{URL: url, Reason: "connection failed", Err: errors.New("no TCP connection under the WebSocket")}
	}
	return ws, raw, nil
}

func classifyDialError(parent context.Context, timedOut bool, url string, resp *http.Response, err error) error {
	de := &DialError{URL: url, Reason: "connection failed", Err: err}
	if reason, ctxErr := dialReason(parent, timedOut); reason != "" {
		de.Reason, de.Err = reason, ctxErr
	} else if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
		de.Reason, de.HTTPStatus = "handshake rejected", resp.StatusCode
	} else if errors.Is(err, syscall.ECONNREFUSED) {
		de.Reason = "connection refused"
		var opErr *net.OpError
		if errors.As(err, &opErr) {
			de.Err = opErr // drop the HTTP client's wrapping
		}
	}
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	return de
}

// trackedConn remembers that a read from the socket failed, so that a
// message cut short by a dropped connection is not taken as complete.
type trackedConn struct {
	net.Conn
	readFailed  atomic.Bool
	writeFailed atomic.Bool
}

func (t *trackedConn) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	if err != nil {
		t.readFailed.Store(true)
	}
	return n, err
}

func (t *trackedConn) Write(p []byte) (int, error) {
	n, err := t.Conn.Write(p)
	if err != nil {
		t.writeFailed.Store(true)
	}
	return n, err
}
