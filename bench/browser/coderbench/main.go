//go:build js && wasm

// Command coderbench is the browser benchmark page's coder/websocket
// program. Receive reads directly; coder/websocket has no state to watch,
// so Closed starts the reader goroutine an application needs to see a
// close.
package main

import (
	"context"
	"sync"

	"github.com/coder/websocket"
	"github.com/dualws/dualws/bench/browser/wasmbench"
)

type conn struct {
	c      *websocket.Conn
	closed chan struct{}
	once   sync.Once
}

func (c *conn) Send(ctx context.Context, text bool, p []byte) error {
	if text {
		return c.c.Write(ctx, websocket.MessageText, p)
	}
	return c.c.Write(ctx, websocket.MessageBinary, p)
}

func (c *conn) Receive(ctx context.Context) ([]byte, error) {
	_, p, err := c.c.Read(ctx)
	return p, err
}

func (c *conn) Closed() <-chan struct{} {
	c.once.Do(func() { go c.read() })
	return c.closed
}

func (c *conn) Close() error { return c.c.Close(websocket.StatusNormalClosure, "") }

func (c *conn) read() {
	defer close(c.closed)
	for {
		if _, _, err := c.c.Read(context.Background()); err != nil {
			return
		}
	}
}

func main() {
	wasmbench.Serve(func(ctx context.Context, url string) (wasmbench.Conn, error) {
		ws, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			return nil, err
		}
		ws.SetReadLimit(-1)
		return &conn{c: ws, closed: make(chan struct{})}, nil
	})
}
