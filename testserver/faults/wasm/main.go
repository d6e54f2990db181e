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
	"errors"
	"strconv"
	"syscall/js"
	"time"

	"github.com/dualws/dualws/internal/jspromise"
	"github.com/dualws/dualws/testserver/faults"
)

func main() {
	faults.BackingStore = backingStore
	js.Global().Set("faultsRun", js.FuncOf(run))
	js.Global().Set("faultsReady", true)
	select {}
}

// run returns a Promise; the program runs in a goroutine, since a
// js.FuncOf callback must never block the event loop.
func run(_ js.Value, args []js.Value) any {
	name, url, timeout := args[0].String(), args[1].String(), time.Duration(args[2].Int())*time.Millisecond
	return jspromise.JSON(func() (any, error) {
		p := faults.ProgramByName(name)
		if p == nil {
			return nil, errors.New("no program " + name)
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		r := faults.NewRun(ctx, p, url)
		r.Exec(p)
		return faults.Observe(r), nil
	})
}

// backingStore asks the page's server (faults.RunBrowser) for the page's
// array-buffer bytes after a garbage collection: GET /measure, answered
// with a number. It runs on a goroutine, never on the event loop.
func backingStore() (int64, error) {
	type result struct {
		text string
		err  error
	}
	ch := make(chan result, 1)
	text := js.FuncOf(func(_ js.Value, args []js.Value) any {
		if !args[0].Get("ok").Bool() {
			ch <- result{err: errors.New("GET /measure: " + args[0].Get("statusText").String())}
			return nil
		}
		return args[0].Call("text")
	})
	then := js.FuncOf(func(_ js.Value, args []js.Value) any {
		if args[0].Type() == js.TypeString {
			ch <- result{text: args[0].String()}
		}
		return nil
	})
	fail := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- result{err: errors.New(args[0].Call("toString").String())}
		return nil
	})
	defer text.Release()
	defer then.Release()
	defer fail.Release()
	js.Global().Call("fetch", "/measure").Call("then", text).Call("then", then, fail)
	r := <-ch
	if r.err != nil {
		return 0, r.err
	}
	return strconv.ParseInt(r.text, 10, 64)
}
