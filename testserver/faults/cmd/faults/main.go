// Command faults runs dualws's fault suite (testserver/faults) natively
// and in headless Chromium, and prints one line per case with both
// results, then "faults: N/N native, M/M browser". It exits 1 when a run
// fails.
// `make faults` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"regexp"

	"github.com/dualws/dualws/testserver/faults"
)

func main() {
	run := flag.String("run", "", "run only the cases whose name matches this regular expression")
	native := flag.Bool("native-only", false, "do not run the browser column")
	browserOnly := flag.Bool("browser-only", false, "run only the browser column (for diagnosis; fails)")
	verbose := flag.Bool("v", false, "print each case's promise, and the browser's difference by nature")
	flag.Parse()
	var re *regexp.Regexp
	if *run != "" {
		var err error
		if re, err = regexp.Compile(*run); err != nil {
			fmt.Fprintln(os.Stderr, "faults: -run:", err)
			os.Exit(2)
		}
	}
	var cases []*faults.Case
	for _, c := range faults.Cases {
		if re == nil || re.MatchString(c.Name) {
			cases = append(cases, c)
		}
	}
	var b *faults.BrowserRunner
	if !*native {
		var err error
		if b, err = faults.StartBrowser(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	ok := faults.Report(os.Stdout, cases, b, *browserOnly, *verbose)
	if b != nil {
		b.Close()
	}
	if !ok {
		os.Exit(1)
	}
}
