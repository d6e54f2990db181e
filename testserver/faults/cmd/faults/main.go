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
	browserOnly := flag.Bool("browser-only", false, "run only the browser column (of -browser)")
	verbose := flag.Bool("v", false, "print each case's promise, and the browser's difference by nature")
	browserName := flag.String("browser", "browser", "the browser column: \"browser\" (headless Chromium through chromedp), or an engine launched by internal/engine without DevTools: chromium, firefox or webkit (the page posts its observations back)")
	events := flag.String("events", "", "print the page's WebSocket log (engines only) under each failed browser run, or under every one with \"all\"")
	jsonOut := flag.String("json", "", "append one JSON line per run to this file")
	socketWait := flag.Duration("socket-wait", 0, "engines: how long the server waits for the client to close its sockets after the page reported (default 3s)")
	wslog := flag.Bool("wslog", true, "engines: wrap the page's WebSocket to log its events")
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
	faults.ShowEvents = *events
	faults.WSLog = *wslog
	faults.SocketWait = *socketWait
	if *jsonOut != "" {
		f, err := os.OpenFile(*jsonOut, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		defer f.Close()
		faults.JSONOut = f
	}
	var b faults.CaseRunner
	if !*native {
		var err error
		if b, err = faults.StartRunner(context.Background(), *browserName); err != nil {
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
