//go:build !js

package faults

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Report runs the cases one at a time, first all natively, then, with b,
// all in the browser (so that neither disturbs the other's measures), and
// prints one line per case (the native result, then the browser's) with
// the problems of a failed run indented below it, and the totals. A case
// that does not run in the browser says why ("n/a") and is not counted.
// It reports whether every run passed.
//
// With skipNative, only the browser column runs (for diagnosis).
func Report(w io.Writer, cases []*Case, b *BrowserRunner, skipNative, verbose bool) bool {
	native := make([]*Result, len(cases))
	passed, bRan, bPassed := 0, 0, 0
	for i, c := range cases {
		if skipNative {
			native[i] = &Result{Case: c, Problems: []string{"not run (-browser-only)"}}
			continue
		}
		native[i] = RunCase(c)
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
		browserCol := "browser: not run"
		switch {
		case c.Browser.NA != "":
			browserCol = "browser: n/a (" + c.Browser.NA + ")"
		case b != nil:
			bres = b.RunCase(c)
			bRan++
			if bres.OK() {
				bPassed++
			}
			browserCol = fmt.Sprintf("browser: %-4s %6s  %s", verdict(bres), bres.Elapsed.Round(time.Millisecond), bres.Summary)
		}
		fmt.Fprintf(w, "%-42s %-11s native: %-4s %6s  %-60s  %s\n",
			c.Name, defect, verdict(res), res.Elapsed.Round(time.Millisecond), res.Summary, browserCol)
		if verbose {
			fmt.Fprintf(w, "    promise: %s\n", c.Promise)
			if c.Browser.Why != "" {
				fmt.Fprintf(w, "    in the browser: %s\n", c.Browser.Why)
			}
		}
		printProblems(w, "native", res)
		if bres != nil {
			printProblems(w, "browser", bres)
		}
	}
	fmt.Fprintf(w, "faults: %d/%d native, %d/%d browser\n", passed, len(cases), bPassed, bRan)
	return passed == len(cases) && bPassed == bRan
}

func verdict(r *Result) string {
	if r.OK() {
		return "ok"
	}
	return "FAIL"
}

func printProblems(w io.Writer, platform string, r *Result) {
	for _, p := range r.Problems {
		fmt.Fprintf(w, "    %s: %s\n", platform, strings.ReplaceAll(p, "\n", "\n    "))
	}
}
