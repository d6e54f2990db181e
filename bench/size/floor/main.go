//go:build js && wasm

// Command floor is the bundle-size floor: the same dial, send, receive and
// close on the browser's WebSocket through syscall/js, with no library.
package main

import "syscall/js"

func main() {
	ws := js.Global().Get("WebSocket").New("ws://127.0.0.1:8080/ws/echo")
	ws.Set("binaryType", "arraybuffer")
	opened, got, closed := make(chan struct{}), make(chan string, 1), make(chan struct{})
	onOpen := js.FuncOf(func(js.Value, []js.Value) any { close(opened); return nil })
	onMessage := js.FuncOf(func(_ js.Value, args []js.Value) any {
		select {
		case got <- args[0].Get("data").String():
		default:
		}
		return nil
	})
	onClose := js.FuncOf(func(js.Value, []js.Value) any { close(closed); return nil })
	defer onOpen.Release()
	defer onMessage.Release()
	defer onClose.Release()
	ws.Set("onopen", onOpen)
	ws.Set("onmessage", onMessage)
	ws.Set("onclose", onClose)
	select {
	case <-opened:
	case <-closed:
		println("connection failed")
		return
	}
	ws.Call("send", "hello")
	select {
	case p := <-got:
		println(p)
	case <-closed:
	}
	ws.Call("close", 1000, "")
	<-closed
}
