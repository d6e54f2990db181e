//go:build !js

// Package clients puts dualws, raw coder/websocket and gorilla/websocket
// behind one small interface, so that every native benchmark runs the same
// loop against each library.
package clients

import (
	"context"
	"errors"
	"fmt"

	"github.com/coder/websocket"
	"github.com/dualws/dualws"
	gorilla "github.com/gorilla/websocket"
)

// Names lists the libraries in report order.
var Names = []string{"dualws", "coder", "gorilla"}

// Conn is one client connection. Messages are binary unless text is set.
type Conn interface {
	Send(ctx context.Context, p []byte) error
	SendText(ctx context.Context, s string) error
	Receive(ctx context.Context) ([]byte, error)
	Close() error
}

// Dial connects with the named library. Keepalive pings are off in every
// library so that idle connections cost the same work.
func Dial(ctx context.Context, lib, url string) (Conn, error) {
	switch lib {
	case "dualws":
		c, err := dualws.Dial(ctx, url, &dualws.Options{PingInterval: -1})
		if err != nil {
			return nil, fmt.Errorf("dualws dial %s: %w", url, err)
		}
		return dualConn{c}, nil
	case "coder":
		c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			return nil, fmt.Errorf("coder dial %s: %w", url, err)
		}
		// The same limit as dualws's default (coder/websocket's own is 32 KiB).
		c.SetReadLimit(dualws.DefaultReadLimit)
		return coderConn{c}, nil
	case "gorilla":
		c, resp, err := gorilla.DefaultDialer.DialContext(ctx, url, nil)
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		if err != nil {
			return nil, fmt.Errorf("gorilla dial %s: %w", url, err)
		}
		return gorillaConn{c}, nil
	}
	return nil, fmt.Errorf("clients: unknown library %q", lib)
}

type dualConn struct{ c *dualws.Client }

func (d dualConn) Send(ctx context.Context, p []byte) error { return d.c.Send(ctx, dualws.Binary, p) }
func (d dualConn) SendText(ctx context.Context, s string) error {
	return d.c.SendText(ctx, s)
}
func (d dualConn) Receive(ctx context.Context) ([]byte, error) {
	_, p, err := d.c.Receive(ctx)
	return p, err
}
func (d dualConn) Close() error { return d.c.Close(dualws.StatusNormalClosure, "") }

// Wrap adapts a dualws client dialed by the caller.
func Wrap(c *dualws.Client) Conn { return dualConn{c} }

// Client returns the dualws client under c, or nil.
func Client(c Conn) *dualws.Client {
	if d, ok := c.(dualConn); ok {
		return d.c
	}
	return nil
}

type coderConn struct{ c *websocket.Conn }

func (d coderConn) Send(ctx context.Context, p []byte) error {
	return d.c.Write(ctx, websocket.MessageBinary, p)
}
func (d coderConn) SendText(ctx context.Context, s string) error {
	return d.c.Write(ctx, websocket.MessageText, []byte(s))
}
func (d coderConn) Receive(ctx context.Context) ([]byte, error) {
	_, p, err := d.c.Read(ctx)
	return p, err
}
func (d coderConn) Close() error { return d.c.Close(websocket.StatusNormalClosure, "") }

// Coder returns the coder/websocket connection under c, or nil.
func Coder(c Conn) *websocket.Conn {
	if d, ok := c.(coderConn); ok {
		return d.c
	}
	return nil
}

type gorillaConn struct{ c *gorilla.Conn }

func (d gorillaConn) Send(ctx context.Context, p []byte) error {
	return d.c.WriteMessage(gorilla.BinaryMessage, p)
}
func (d gorillaConn) SendText(ctx context.Context, s string) error {
	return d.c.WriteMessage(gorilla.TextMessage, []byte(s))
}
func (d gorillaConn) Receive(ctx context.Context) ([]byte, error) {
	_, p, err := d.c.ReadMessage()
	return p, err
}

// Close runs the closing handshake by hand: gorilla leaves it to the
// application.
func (d gorillaConn) Close() error {
	msg := gorilla.FormatCloseMessage(gorilla.CloseNormalClosure, "")
	if err := d.c.WriteMessage(gorilla.CloseMessage, msg); err != nil {
		d.c.Close()
		return err
	}
	for {
		if _, _, err := d.c.ReadMessage(); err != nil {
			d.c.Close()
			var ce *gorilla.CloseError
			if errors.As(err, &ce) {
				return nil
			}
			return err
		}
	}
}

// ErrUnknown is returned for a library name not in Names.
var ErrUnknown = errors.New("clients: unknown library")

// Check reports whether lib is known.
func Check(lib string) error {
	for _, n := range Names {
		if n == lib {
			return nil
		}
	}
	return fmt.Errorf("%w %q", ErrUnknown, lib)
}
