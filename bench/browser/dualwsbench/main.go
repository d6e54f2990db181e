//go:build js && wasm

// Command dualwsbench is the browser benchmark page's dualws program.
package main

import (
	"context"

	"github.com/dualws/dualws"
	"github.com/dualws/dualws/bench/browser/wasmbench"
)

type conn struct{ c *dualws.Client }

func (c conn) Send(ctx context.Context, text bool, p []byte) error {
	if text {
		return c.c.Send(ctx, dualws.Text, p)
	}
	return c.c.Send(ctx, dualws.Binary, p)
}

func (c conn) Receive(ctx context.Context) ([]byte, error) {
	_, p, err := c.c.Receive(ctx)
	return p, err
}

func (c conn) Closed() <-chan struct{} { return c.c.Done() }

func (c conn) Close() error { return c.c.Close(dualws.StatusNormalClosure, "") }

func main() {
	wasmbench.Serve(func(ctx context.Context, url string) (wasmbench.Conn, error) {
		// The receive runs push up to 2000 × 64 KiB faster than Firefox and
		// WebKit let the page take them: with the default 16 MiB bound the
		// client would close with 1008. Plain JS and coder/websocket queue
		// without a bound, so dualws does here too.
		c, err := dualws.Dial(ctx, url, &dualws.Options{ReadLimit: -1, ReceiveQueueBytes: 1 << 30})
		if err != nil {
			return nil, err
		}
		return conn{c}, nil
	})
}
