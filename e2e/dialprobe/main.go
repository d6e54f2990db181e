//go:build js && wasm

// Command dialprobe is a tiny page program for the e2e tests: it dials
// with the arguments a test gives and reports what Dial returned, with the
// JavaScript exception a *dualws.DialError wraps. Loaded by index.html, it
// exposes
//
//	dualwsProbeDial(url, protocols) → Promise of the Report as JSON
//
// and sets window.dualwsProbeReady = true once it is installed. A dial that
// succeeds is closed with 1000 before the promise resolves.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"syscall/js"

	"github.com/dualws/dualws"
)

// Report is what one dualwsProbeDial call saw.
type Report struct {
	// Kind is the type of Dial's error: "DialError", "UsageError",
	// "other", or "" when Dial succeeded.
	Kind string `json:"kind"`
	// Error is the error's text.
	Error string `json:"error,omitempty"`
	// Reason is the *DialError's Reason.
	Reason string `json:"reason,omitempty"`
	// JSName and JSMessage are the name and message of the js.Error the
	// error wraps, if any.
	JSName    string `json:"js_name,omitempty"`
	JSMessage string `json:"js_message,omitempty"`
	// Closed is the close status after a successful Dial and Close, as
	// "code clean".
	Closed string `json:"closed,omitempty"`
}

func main() {
	js.Global().Set("dualwsProbeDial", js.FuncOf(probeDial))
	js.Global().Set("dualwsProbeReady", true)
	select {}
}

// probeDial returns a Promise; Dial runs in a goroutine, since a js.FuncOf
// callback must never block the event loop.
func probeDial(_ js.Value, args []js.Value) any {
	url := args[0].String()
	var protocols []string
	if len(args) > 1 {
		for i := range args[1].Length() {
			protocols = append(protocols, args[1].Index(i).String())
		}
	}
	var executor js.Func
	executor = js.FuncOf(func(_ js.Value, pargs []js.Value) any {
		resolve := pargs[0]
		go func() {
			raw, _ := json.Marshal(dial(url, protocols))
			resolve.Invoke(string(raw))
		}()
		return nil
	})
	p := js.Global().Get("Promise").New(executor)
	executor.Release()
	return p
}

func dial(url string, protocols []string) Report {
	c, err := dualws.Dial(context.Background(), url, &dualws.Options{Subprotocols: protocols})
	if err == nil {
		c.Close(dualws.StatusNormalClosure, "")
		<-c.Done()
		st, _ := c.CloseStatus()
		clean := "not clean"
		if st.WasClean {
			clean = "clean"
		}
		return Report{Closed: strconv.Itoa(int(st.Code)) + " " + clean}
	}
	r := Report{Kind: "other", Error: err.Error()}
	var de *dualws.DialError
	var ue *dualws.UsageError
	switch {
	case errors.As(err, &de):
		r.Kind, r.Reason = "DialError", de.Reason
	case errors.As(err, &ue):
		r.Kind = "UsageError"
	}
	var je js.Error
	if errors.As(err, &je) {
		r.JSName, r.JSMessage = je.Get("name").String(), je.Get("message").String()
	}
	return r
}
