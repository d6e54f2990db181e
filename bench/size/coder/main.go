//go:build js && wasm

// Command coder is the bundle-size program for coder/websocket.
package main

import (
	"context"

	"github.com/coder/websocket"
)

func main() {
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, "ws://127.0.0.1:8080/ws/echo", nil)
	if err != nil {
		println(err.Error())
		return
	}
	if err := c.Write(ctx, websocket.MessageText, []byte("hello")); err != nil {
		println(err.Error())
	}
	if _, p, err := c.Read(ctx); err == nil {
		println(string(p))
	}
	c.Close(websocket.StatusNormalClosure, "")
}
