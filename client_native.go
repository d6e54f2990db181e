//go:build !js

package dualws

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
)

// nativeConn drives the core from a coder/websocket connection: one reader
// goroutine, a keepalive timer, and a goroutine only while a close
// handshake is in progress.
type nativeConn struct {
	c   *Client
	ws  *websocket.Conn
	raw *trackedConn // the TCP connection under ws; closing it aborts everything

	inFlight  atomic.Int64
	closeOnce sync.Once
	closer    sync.WaitGroup
	closeSeen atomic.Bool // the closer saw the peer's close frame

	pingMu      sync.Mutex
	pingTimer   *time.Timer
	pingStopped bool
	pings       sync.WaitGroup

	probe [1]byte // used only by the reader goroutine
}

func checkPlatformOptions(*settings) error { return nil }

// dialTransport opens the connection within the handshake timeout.
func dialTransport(parent context.Context, c *Client) error {
	ws, raw, err := dialWebSocket(parent, c.url, &c.cfg)
	if err != nil {
		return err
	}
	d := &nativeConn{c: c, ws: ws, raw: raw}
	if c.cfg.readLimit < 0 {
		ws.SetReadLimit(-1)
	} else {
		// One byte over the limit, so the reader sees an oversized message
		// and closes with 1009 itself.
		ws.SetReadLimit(c.cfg.readLimit + 1)
	}
	c.t = d
	c.opened(ws.Subprotocol())
	d.schedulePing()
	go d.readLoop()
	return nil
}

func (d *nativeConn) readLoop() {
	clean := false
	for {
		typ, r, err := d.ws.Reader(context.Background())
		if err != nil {
			if code := websocket.CloseStatus(err); code != -1 {
				var ce websocket.CloseError
				errors.As(err, &ce)
				d.c.peerClosed(StatusCode(ce.Code), ce.Reason)
				clean = true
			} else {
				d.c.cfg.logger.Debug("dualws: read ended", "err", err)
			}
			break
		}
		data, err := d.readMessage(r)
		if errors.Is(err, errTooBig) {
			d.c.messageTooBig()
			break
		}
		if err == nil && d.raw.readFailed.Load() {
			// coder/websocket reports io.EOF when the connection ends
			// inside a fragmented message; a browser delivers nothing.
			err = errors.New("connection ended inside a message")
		}
		if err != nil {
			d.c.cfg.logger.Debug("dualws: read failed", "err", err)
			break
		}
		mt := MessageType(typ)
		if mt == Text && !utf8.Valid(data) {
			d.c.invalidText()
			break
		}
		d.c.deliver(mt, data, true)
	}
	d.stopPings()
	d.closer.Wait()
	d.raw.Close()
	d.ws.CloseNow() // releases a ping waiting for its pong
	d.pings.Wait()
	d.c.transportClosed(clean || d.closeSeen.Load(), statusDropped)
}

var errTooBig = errors.New("message over the read limit")

// readMessage reads a whole message, failing with errTooBig past
// ReadLimit. It doubles its buffer as it fills, without a LimitReader.
// When the buffer is full it reads one byte into a probe first, so a
// message that exactly fills the buffer ends without growing it.
func (d *nativeConn) readMessage(r io.Reader) ([]byte, error) {
	limit := d.c.cfg.readLimit
	b := make([]byte, 0, 512)
	for {
		var n int
		var err error
		if len(b) < cap(b) {
			n, err = r.Read(b[len(b):cap(b)])
			b = b[:len(b)+n]
		} else if n, err = r.Read(d.probe[:]); n > 0 {
			grown := make([]byte, len(b), 2*cap(b))
			copy(grown, b)
			b = append(grown, d.probe[:n]...)
		}
		if limit >= 0 && int64(len(b)) > limit {
			return nil, errTooBig
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (d *nativeConn) write(ctx context.Context, typ MessageType, p []byte) error {
	d.inFlight.Add(int64(len(p)))
	defer d.inFlight.Add(-int64(len(p)))
	return d.ws.Write(ctx, websocket.MessageType(typ), p)
}

// sendClose runs coder/websocket's close handshake in a goroutine; the
// reader stops once it has handed over (after a close it stops reading).
func (d *nativeConn) sendClose(code StatusCode, reason string) {
	d.closeOnce.Do(func() {
		d.closer.Add(1)
		go func() {
			defer d.closer.Done()
			err := d.ws.Close(websocket.StatusCode(code), reason)
			if err == nil || websocket.CloseStatus(err) != -1 {
				d.closeSeen.Store(true)
			}
			d.raw.Close()
		}()
	})
}

func (d *nativeConn) abort() { d.raw.Close() }

func (d *nativeConn) bufferedAmount() int { return int(d.inFlight.Load()) }

// schedulePing arms the next keepalive ping, unless pings are off or the
// reader has ended.
func (d *nativeConn) schedulePing() {
	if d.c.cfg.pingInterval <= 0 {
		return
	}
	d.pingMu.Lock()
	defer d.pingMu.Unlock()
	if d.pingStopped {
		return
	}
	d.pings.Add(1)
	d.pingTimer = time.AfterFunc(d.c.cfg.pingInterval, d.ping)
}

func (d *nativeConn) stopPings() {
	d.pingMu.Lock()
	defer d.pingMu.Unlock()
	d.pingStopped = true
	if d.pingTimer != nil && d.pingTimer.Stop() {
		d.pings.Done()
	}
}

// ping sends one ping and waits PingTimeout for the pong; no pong drops
// the connection with 1006 "keepalive timeout".
func (d *nativeConn) ping() {
	defer d.pings.Done()
	ctx, cancel := context.WithTimeout(context.Background(), d.c.cfg.pingTimeout)
	err := d.ws.Ping(ctx)
	timedOut := ctx.Err() != nil
	cancel()
	switch {
	case err == nil:
		d.schedulePing()
	case timedOut:
		d.c.keepaliveTimeout()
	default:
		d.c.cfg.logger.Debug("dualws: ping failed", "err", err)
	}
}
