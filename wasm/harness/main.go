//go:build js && wasm

// Command harness is the browser side of the parity suite: loaded by
// index.html, it exposes the scenarios of package scenarios to JavaScript.
//
//	dualwsNames()                          → array of scenario names
//	dualwsRun(name, baseURL[, refusedURL[, nodeWSURL]])
//	                                       → Promise of the trace as JSON
//
// and sets window.dualwsReady = true once both are installed. Loaded with
// ?post=PATH&token=T it also runs the scenarios that the serving process
// hands out, one at a time, and posts their traces back (remote.go): that
// is how browsers without a driver (engine.Launch) run the parity suite.
package main

import (
	"context"
	"syscall/js"

	"github.com/dualws/dualws/internal/jspromise"
	"github.com/dualws/dualws/scenarios"
)

func main() {
	g := js.Global()
	g.Set("dualwsNames", js.FuncOf(names))
	g.Set("dualwsRun", js.FuncOf(runScenario))
	g.Set("dualwsReady", true)
	if post, token, ok := remoteParams(); ok {
		go remoteLoop(post, token)
	}
	select {}
}

func names(js.Value, []js.Value) any {
	ns := scenarios.Names()
	out := make([]any, len(ns))
	for i, n := range ns {
		out[i] = n
	}
	return out
}

// runScenario returns a Promise; the scenario runs in a goroutine, since a
// js.FuncOf callback must never block the event loop.
func runScenario(_ js.Value, args []js.Value) any {
	var cfg scenarios.Config
	name := ""
	if len(args) > 0 {
		name = args[0].String()
	}
	if len(args) > 1 {
		cfg.BaseURL = args[1].String()
	}
	if len(args) > 2 && args[2].Type() == js.TypeString {
		cfg.RefusedURL = args[2].String()
	}
	if len(args) > 3 && args[3].Type() == js.TypeString {
		cfg.NodeWSURL = args[3].String()
	}
	return jspromise.JSON(func() (any, error) {
		return scenarios.RunConfig(context.Background(), name, cfg), nil
	})
}
