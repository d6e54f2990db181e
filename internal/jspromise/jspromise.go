//go:build js && wasm

// Package jspromise hands Go work to JavaScript as a Promise, for the wasm
// programs of the repository (the scenario harness, the fault suite's
// browser side).
package jspromise

import (
	"encoding/json"
	"syscall/js"
)

// JSON returns a Promise of work's result encoded as JSON (a string). work
// runs in a goroutine of its own, since a js.FuncOf callback must never
// block the event loop. The Promise is rejected with an Error when work
// fails or its result does not encode.
func JSON(work func() (any, error)) js.Value {
	var executor js.Func
	executor = js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve, reject := args[0], args[1]
		go func() {
			v, err := work()
			var raw []byte
			if err == nil {
				if raw, err = json.Marshal(v); err != nil {
					err = &encodeError{err}
				}
			}
			if err != nil {
				reject.Invoke(js.Global().Get("Error").New(err.Error()))
				return
			}
			resolve.Invoke(string(raw))
		}()
		return nil
	})
	p := js.Global().Get("Promise").New(executor)
	executor.Release()
	return p
}

type encodeError struct{ err error }

func (e *encodeError) Error() string { return "encoding the result: " + e.err.Error() }
