//go:build js && wasm

// Command dualws is the bundle-size program for dualws.
package main

import (
	"context"

	"github.com/dualws/dualws"
)

func main() {
	ctx := context.Background()
	c, err := dualws.Dial(ctx, "ws://127.0.0.1:8080/ws/echo", nil)
	if err != nil {
		println(err.Error())
		return
	}
	if err := c.SendText(ctx, "hello"); err != nil {
		println(err.Error())
	}
	if _, p, err := c.Receive(ctx); err == nil {
		println(string(p))
	}
	c.Close(dualws.StatusNormalClosure, "")
}
