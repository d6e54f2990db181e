package faults

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Report runs the cases one at a time, prints one line per case (native
// result, then the browser's) with the problems of a failed case indented
// below it, and the totals. It reports whether every case passed.
//
// The browser column is not run yet: each line says "browser: not run"
// and the total counts 0/0.
func Report(w io.Writer, cases []*Case, verbose bool) bool {
	passed := 0
	for _, c := range cases {
		res := RunCase(c)
		verdict := "ok"
		if !res.OK() {
			verdict = "FAIL"
		} else {
			passed++
		}
		defect := ""
		if c.Defect != 0 {
			defect = fmt.Sprintf("[defect %d]", c.Defect)
		}
		fmt.Fprintf(w, "%-42s %-11s native: %-4s %6s  %-60s  browser: not run\n",
			c.Name, defect, verdict, res.Elapsed.Round(time.Millisecond), res.Summary)
		if verbose {
			fmt.Fprintf(w, "    promise: %s\n", c.Promise)
		}
		for _, p := range res.Problems {
			fmt.Fprintf(w, "    %s\n", strings.ReplaceAll(p, "\n", "\n    "))
		}
	}
	fmt.Fprintf(w, "faults: %d/%d native, 0/0 browser\n", passed, len(cases))
	return passed == len(cases)
}
