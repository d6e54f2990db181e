// Command demo is `make demo`: it builds the browser harness, starts the
// scenario server and headless Chromium, runs every parity scenario
// natively and in the browser, and prints a table of the outcomes with
// each platform's close-detection time. It ends with the line
// "parity: N/M scenarios identical" and exits with status 1 unless every
// scenario behaved the same on both platforms.
//
// Usage:
//
//	go run ./e2e/demo [-run NAME[,NAME...]] [-v]
package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/dualws/dualws/e2e"
	"github.com/dualws/dualws/scenarios"
)

func main() {
	os.Exit(run())
}

func run() int {
	only := flag.String("run", "", "run only these scenarios (comma-separated names)")
	verbose := flag.Bool("v", false, "print both traces of every scenario")
	flag.Parse()

	names := scenarios.Names()
	if *only != "" {
		names = nil
		for _, n := range strings.Split(*only, ",") {
			n = strings.TrimSpace(n)
			if !slices.Contains(scenarios.Names(), n) {
				fmt.Fprintf(os.Stderr, "demo: unknown scenario %q; scenarios: %s\n", n, strings.Join(scenarios.Names(), ", "))
				return 2
			}
			names = append(names, n)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fmt.Fprintln(os.Stderr, "demo: building the harness and starting the scenario server and Chromium...")
	env, err := e2e.Start(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	defer env.Close()

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tnative\tdetect\tbrowser\tdetect\tsame?")
	identical := 0
	var diffs, notes []string
	for _, name := range names {
		native := env.Native(ctx, name)
		br, console, err := env.Browser(ctx, name)
		if err != nil {
			br = scenarios.Trace{Scenario: name, Failure: err.Error(), CloseDetectMS: -1}
			if len(console) > 0 {
				br.Failure += "; console: " + strings.Join(console, " | ")
			}
		}
		same := scenarios.Equal(native, br) && native.Failure == "" && br.Failure == ""
		mark := "NO"
		if same {
			identical++
			mark = "yes"
		} else {
			diffs = append(diffs, fmt.Sprintf("%s (native | browser):\n%s", name, sideBySide(native, br)))
		}
		if len(native.Notes)+len(br.Notes) > 0 {
			notes = append(notes, fmt.Sprintf("  %s: native %s; browser %s", name, noteString(native.Notes), noteString(br.Notes)))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, summary(native), ms(native.CloseDetectMS), summary(br), ms(br.CloseDetectMS), mark)
		if *verbose {
			tw.Flush()
			fmt.Printf("  native:  %s\n  browser: %s\n", strings.Join(native.Lines(), "\n           "), strings.Join(br.Lines(), "\n           "))
		}
		if ctx.Err() != nil {
			break
		}
	}
	tw.Flush()
	if len(notes) > 0 {
		fmt.Println("\nnot compared (differs by nature between platforms):")
		for _, n := range notes {
			fmt.Println(n)
		}
	}
	for _, d := range diffs {
		fmt.Printf("\n%s", d)
	}
	fmt.Printf("\nparity: %d/%d scenarios identical\n", identical, len(names))
	if identical != len(names) {
		return 1
	}
	return 0
}

// sideBySide is scenarios.Diff, or both traces when they only differ in a
// failure.
func sideBySide(a, b scenarios.Trace) string {
	if d := scenarios.Diff(a, b); d != "" {
		return d
	}
	return "  native:  " + strings.Join(a.Lines(), "; ") + "\n  browser: " + strings.Join(b.Lines(), "; ") + "\n"
}

// summary is how the run ended: the failure, or the last transition's
// status, or the outcome of the last operation when no connection opened.
func summary(t scenarios.Trace) string {
	if t.Failure != "" {
		f := t.Failure
		if len(f) > 40 {
			f = f[:40] + "..."
		}
		return "FAILED: " + f
	}
	s := ""
	if n := len(t.Transitions); n > 0 {
		last := t.Transitions[n-1]
		s = last.To
		if last.Code != 0 {
			s += fmt.Sprintf(" %d", last.Code)
		}
		if last.To == "CLOSED" {
			if last.WasClean {
				s += " clean"
			} else {
				s += " unclean"
			}
		}
	}
	if len(t.Ops) > 0 && t.Ops[0].Op == "dial" && t.Ops[0].Result != "ok" {
		s += " (dial: " + t.Ops[0].Result
		if t.Ops[0].Cause != "" {
			s += " " + t.Ops[0].Cause
		}
		s += ")"
	}
	if len(t.Received) > 0 {
		s += fmt.Sprintf(", %d recv", len(t.Received))
	}
	return s
}

func noteString(m map[string]string) string {
	if len(m) == 0 {
		return "-"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ", ")
}

func ms(v float64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fms", v)
}
