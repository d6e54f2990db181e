//go:build js && wasm

// Command wasm is the browser side of the fault suite: loaded by the page
// that faults.RunBrowser serves, it runs one case's client program (by its
// name, see testserver/faults/program.go) against the native fault server
// and reports what it observed.
//
//	faultsRun(program, url, timeoutMs) → Promise of a faults.Observation as JSON
//
// It sets window.faultsReady = true once faultsRun is installed.
package main

import (
	"context"
	"encoding/json"
	"syscall/js"
	"time"

	"github.com/dualws/dualws/testserver/faults"
)

func main() {
	js.Global().Set("faultsRun", js.FuncOf(run))
	js.Global().Set("faultsReady", true)
	select {}
}

// run returns a Promise; the program runs in a goroutine, since a
// js.FuncOf callback must never block the event loop.
func run(_ js.Value, args []js.Value) any {
	name, url, timeout := args[0].String(), args[1].String(), time.Duration(args[2].Int())*time.Millisecond
	var executor js.Func
	executor = js.FuncOf(func(_ js.Value, pargs []js.Value) any {
		resolve, reject := pargs[0], pargs[1]
		go func() {
			p := faults.ProgramByName(name)
			if p == nil {
				reject.Invoke(js.Global().Get("Error").New("no program " + name))
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			r := faults.NewRun(ctx, p, url)
			r.Exec(p)
			raw, err := json.Marshal(faults.Observe(r))
			if err != nil {
				reject.Invoke(js.Global().Get("Error").New("encoding the observation: " + err.Error()))
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
