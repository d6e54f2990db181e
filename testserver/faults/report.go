//go:build !js

package faults

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// JSONOut, when set, receives one JSON object per run (JSONRecord), for
// comparing columns and repeats.
var JSONOut io.Writer

// ShowEvents prints the page's WebSocket log (EngineRunner) under each
// browser run that failed, or under every browser run when "all".
var ShowEvents = ""

// JSONRecord is one run of one case on one platform.
type JSONRecord struct {
	Case, Platform string
	OK             bool
	Summary        string
	ElapsedMs      int64
	Problems       []string     `json:",omitempty"`
	Observation    *Observation `json:",omitempty"`
	ServerSaw      int
	Events         []string `json:",omitempty"`
	Rerun          string   `json:",omitempty"`
}

func writeJSON(platform string, r *Result) {
	if JSONOut == nil || r == nil {
		return
	}
	b, err := json.Marshal(JSONRecord{Case: r.Case.Name, Platform: platform, OK: r.OK(), Summary: r.Summary,
		ElapsedMs: r.Elapsed.Milliseconds(), Problems: r.Problems, Observation: r.Observation, ServerSaw: r.ServerSaw, Events: r.Events, Rerun: r.Rerun})
	if err != nil {
		b, _ = json.Marshal(map[string]string{"Case": r.Case.Name, "Platform": platform, "Error": err.Error()})
	}
	JSONOut.Write(append(b, '\n'))
}

// Report runs the cases one at a time, first all natively, then, with b,
// all in the browser (so that neither disturbs the other's measures), and
// prints one line per case (the native result, then the browser's) with
// the problems of a failed run indented below it, and the totals. A case
// that does not run in the browser says why ("n/a") and is not counted.
// It reports whether every run passed.
//
// With skipNative, only the browser column runs (Column).
func Report(w io.Writer, cases []*Case, b CaseRunner, skipNative, verbose bool) bool {
	if skipNative && b != nil {
		return Column(w, cases, b, verbose)
	}
	native := make([]*Result, len(cases))
	passed, bRan, bPassed := 0, 0, 0
	for i, c := range cases {
		native[i] = RunCase(c)
		writeJSON("native", native[i])
		if native[i].OK() {
			passed++
		}
	}
	for i, c := range cases {
		res := native[i]
		defect := ""
		if c.Defect != 0 {
			defect = fmt.Sprintf("[defect %d]", c.Defect)
		}
		var bres *Result
		label := "browser"
		if b != nil {
			label = b.Label()
		}
		browserCol := label + ": not run"
		cb := c.Browser
		if b != nil {
			cb = b.Browser(c)
		}
		switch {
		case cb.NA != "":
			browserCol = label + ": n/a (" + cb.NA + ")"
		case b != nil:
			bres = b.RunCase(c)
			writeJSON(label, bres)
			bRan++
			if bres.OK() {
				bPassed++
			}
			browserCol = fmt.Sprintf("%s: %-4s %6s  %s", label, verdict(bres), bres.Elapsed.Round(time.Millisecond), bres.Summary)
		}
		fmt.Fprintf(w, "%-42s %-11s native: %-4s %6s  %-60s  %s\n",
			c.Name, defect, verdict(res), res.Elapsed.Round(time.Millisecond), res.Summary, browserCol)
		if verbose {
			fmt.Fprintf(w, "    promise: %s\n", c.Promise)
			if cb.Why != "" {
				fmt.Fprintf(w, "    in the browser: %s\n", cb.Why)
			}
		}
		printProblems(w, "native", res)
		if bres != nil {
			printProblems(w, label, bres)
			if len(bres.Events) > 0 && (ShowEvents == "all" || ShowEvents != "" && !bres.OK()) {
				fmt.Fprintf(w, "    %s's WebSocket (ms since new):\n%s\n", label, FormatEvents(bres.Events))
			}
		}
	}
	label := "browser"
	if b != nil {
		label = b.Label()
	}
	fmt.Fprintf(w, "faults: %d/%d native, %d/%d %s\n", passed, len(cases), bPassed, bRan, label)
	return passed == len(cases) && bPassed == bRan
}

// Column runs the cases' browser column alone in b (`make faults` runs
// Firefox's and WebKit's this way, after the native and Chromium columns),
// one line per case, and reports whether every run passed.
func Column(w io.Writer, cases []*Case, b CaseRunner, verbose bool) bool {
	label := b.Label()
	ran, passed := 0, 0
	for _, c := range cases {
		defect := ""
		if c.Defect != 0 {
			defect = fmt.Sprintf("[defect %d]", c.Defect)
		}
		cb := b.Browser(c)
		if cb.NA != "" {
			fmt.Fprintf(w, "%-42s %-11s %s: n/a (%s)\n", c.Name, defect, label, cb.NA)
			continue
		}
		res := b.RunCase(c)
		writeJSON(label, res)
		ran++
		if res.OK() {
			passed++
		}
		fmt.Fprintf(w, "%-42s %-11s %s: %-4s %6s  %s\n", c.Name, defect, label, verdict(res), res.Elapsed.Round(time.Millisecond), res.Summary)
		if verbose {
			fmt.Fprintf(w, "    promise: %s\n", c.Promise)
			if cb.Why != "" {
				fmt.Fprintf(w, "    in %s: %s\n", label, cb.Why)
			}
		}
		printProblems(w, label, res)
		if len(res.Events) > 0 && (ShowEvents == "all" || ShowEvents != "" && !res.OK()) {
			fmt.Fprintf(w, "    %s's WebSocket (ms since new):\n%s\n", label, FormatEvents(res.Events))
		}
	}
	fmt.Fprintf(w, "faults: %d/%d %s\n", passed, ran, label)
	return passed == ran
}

func verdict(r *Result) string {
	if r.OK() {
		return "ok"
	}
	return "FAIL"
}

func printProblems(w io.Writer, platform string, r *Result) {
	if r.Rerun != "" {
		fmt.Fprintf(w, "    %s: rerun: %s\n", platform, r.Rerun)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "    %s: %s\n", platform, strings.ReplaceAll(p, "\n", "\n    "))
	}
}
