// Command faults runs dualws's fault suite (testserver/faults) and prints
// one line per case, then "faults: N/N native, M/M browser". It exits 1
// when a case fails. `make faults` runs it.
package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"

	"github.com/dualws/dualws/testserver/faults"
)

func main() {
	run := flag.String("run", "", "run only the cases whose name matches this regular expression")
	verbose := flag.Bool("v", false, "print each case's promise")
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
	if !faults.Report(os.Stdout, cases, *verbose) {
		os.Exit(1)
	}
}
