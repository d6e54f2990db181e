// Command demo is `make demo`: it builds the browser harness, starts the
// scenario servers and headless Chromium, runs every parity scenario
// natively and in the browser, and prints a table of the outcomes with
// each platform's close-detection time, then the seed matrix (one line per
// server and client shape, each cell's accepted-after counts per platform).
// It ends with the line "parity: N/M scenarios identical", where each seed
// cell counts as a scenario, and exits with status 1 unless every scenario
// behaved the same on both platforms in every repetition and broke no
// promise (Trace.Violations).
//
// Usage:
//
//	go run ./e2e/demo [-run NAME|GLOB|PREFIX[,...]] [-repeat N] [-v]
package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"path"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dualws/dualws/e2e"
	"github.com/dualws/dualws/scenarios"
)

func main() {
	os.Exit(run())
}

func run() int {
	only := flag.String("run", "", "run only these scenarios: comma-separated names, globs (seed-go-*) or name prefixes (seed)")
	verbose := flag.Bool("v", false, "print both traces of every scenario")
	repeat := flag.Int("repeat", 1, "run every scenario this many times; a scenario is identical only if every repetition is")
	flag.Parse()
	if *repeat < 1 || *repeat > 100 {
		fmt.Fprintln(os.Stderr, "demo: -repeat must be between 1 and 100")
		return 2
	}

	names, err := selectNames(scenarios.Names(), *only)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fmt.Fprintln(os.Stderr, "demo: building the harness and starting the scenario servers and Chromium...")
	env, err := e2e.Start(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	defer env.Close()

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	header := false
	identical := 0
	var diffs, notes []string
	seeds := map[string]result{}
	for _, name := range names {
		res := runRepeated(ctx, env, name, *repeat)
		if res.identical() {
			identical++
		}
		native, br := res.native[0], res.browser[0]
		if _, ok := scenarios.ParseSeedCell(name); ok {
			seeds[name] = res
			if !res.identical() {
				diffs = append(diffs, res.seedWhy())
			}
		} else {
			if !header {
				fmt.Fprintln(tw, "scenario\tnative\tdetect\tbrowser\tdetect\tsame?")
				header = true
			}
			if !res.identical() {
				diffs = append(diffs, res.why())
			}
			if len(native.Notes)+len(br.Notes) > 0 {
				notes = append(notes, fmt.Sprintf("  %s: native %s; browser %s", name, noteString(native.Notes), noteString(br.Notes)))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, summary(native), ms(native.CloseDetectMS), summary(br), ms(br.CloseDetectMS), res.mark())
		}
		if *verbose {
			tw.Flush()
			for i := range res.native {
				fmt.Printf("  %s run %d\n  native:  %s\n  browser: %s\n", name, i+1, strings.Join(res.native[i].Lines(), "\n           "), strings.Join(res.browser[i].Lines(), "\n           "))
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	tw.Flush()
	if len(seeds) > 0 {
		printSeedMatrix(seeds, *repeat)
	}
	if len(notes) > 0 {
		fmt.Println("\nnot compared (differs by nature between platforms):")
		for _, n := range notes {
			fmt.Println(n)
		}
	}
	for _, d := range diffs {
		fmt.Printf("\n%s", d)
	}
	times := ""
	if *repeat > 1 {
		times = fmt.Sprintf(" (each run %d times)", *repeat)
	}
	fmt.Printf("\nparity: %d/%d scenarios identical%s\n", identical, len(names), times)
	if identical != len(names) {
		return 1
	}
	return 0
}

// selectNames resolves -run: each comma-separated item is a scenario name,
// a glob (path.Match), or a prefix of a family of names ("seed" selects
// every seed-... cell). Every item must select something.
func selectNames(all []string, only string) ([]string, error) {
	if only == "" {
		return all, nil
	}
	want := map[string]bool{}
	for _, item := range strings.Split(only, ",") {
		item = strings.TrimSpace(item)
		n := 0
		for _, name := range all {
			match := name == item
			if !match && !slices.Contains(all, item) {
				g, err := path.Match(item, name)
				if err != nil {
					return nil, fmt.Errorf("bad pattern %q: %w", item, err)
				}
				match = g || strings.HasPrefix(name, item+"-")
			}
			if match {
				want[name] = true
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("no scenario matches %q; scenarios: %s", item, strings.Join(all, ", "))
		}
	}
	var names []string
	for _, name := range all {
		if want[name] {
			names = append(names, name)
		}
	}
	return names, nil
}

// result holds the traces of every repetition of one scenario.
type result struct {
	name            string
	native, browser []scenarios.Trace
}

func runRepeated(ctx context.Context, env *e2e.Env, name string, n int) result {
	res := result{name: name}
	for range n {
		native := env.Native(ctx, name)
		br, console, err := env.Browser(ctx, name)
		if err != nil {
			br = scenarios.Trace{Scenario: name, Failure: err.Error(), CloseDetectMS: -1}
			if len(console) > 0 {
				br.Failure += "; console: " + strings.Join(console, " | ")
			}
		}
		res.native = append(res.native, native)
		res.browser = append(res.browser, br)
		if ctx.Err() != nil {
			break
		}
	}
	return res
}

// same reports whether repetition i is identical on both platforms, ran
// without failure and broke no promise.
func (r result) same(i int) bool {
	a, b := r.native[i], r.browser[i]
	return scenarios.Equal(a, b) && a.Failure == "" && b.Failure == "" && len(a.Violations()) == 0 && len(b.Violations()) == 0
}

func (r result) sameCount() int {
	n := 0
	for i := range r.native {
		if r.same(i) {
			n++
		}
	}
	return n
}

func (r result) identical() bool { return r.sameCount() == len(r.native) }

func (r result) mark() string {
	switch n := r.sameCount(); {
	case n == len(r.native):
		return "yes"
	case len(r.native) == 1:
		return "NO"
	default:
		return fmt.Sprintf("NO (%d/%d same)", n, len(r.native))
	}
}

// firstBad returns the first repetition that is not identical.
func (r result) firstBad() int {
	for i := range r.native {
		if !r.same(i) {
			return i
		}
	}
	return 0
}

// why shows the first differing repetition side by side, with the broken
// promises.
func (r result) why() string {
	i := r.firstBad()
	a, b := r.native[i], r.browser[i]
	head := r.name
	if len(r.native) > 1 {
		head += fmt.Sprintf(" run %d", i+1)
	}
	s := fmt.Sprintf("%s (native | browser):\n%s", head, sideBySide(a, b))
	for _, v := range a.Violations() {
		s += "  native broke a promise: " + v + "\n"
	}
	for _, v := range b.Violations() {
		s += "  browser broke a promise: " + v + "\n"
	}
	return s
}

// seedWhy shows what each platform did in the first repetition that is not
// identical, and in the first one where the native client broke the
// promise, if that is another.
func (r result) seedWhy() string {
	reps := []int{r.firstBad()}
	for i, t := range r.native {
		if len(t.Violations()) > 0 || t.Failure != "" {
			if i != reps[0] {
				reps = append(reps, i)
			}
			break
		}
	}
	s := ""
	for _, i := range reps {
		head := r.name
		if len(r.native) > 1 {
			head += fmt.Sprintf(" run %d", i+1)
		}
		s += fmt.Sprintf("%s:\n  native:  %s\n  browser: %s\n", head, seedLine(r.native[i]), seedLine(r.browser[i]))
	}
	return s
}

func seedLine(t scenarios.Trace) string {
	if t.Failure != "" {
		return "FAILED: " + t.Failure
	}
	s := summary(t) + fmt.Sprintf("; accepted after the end: %d; judged sends refused with: %s", t.Counts[scenarios.AcceptedAfterClose], t.Facts["judged_sends_refused_with"])
	if d := t.Notes["sends_vs_server_end"]; d != "" {
		s += "; sends vs the server's end: " + d
	}
	if d := t.Notes["timeline"]; d != "" {
		s += "; " + d
	}
	return s
}

// printSeedMatrix prints one line per server and client shape: for each
// server behaviour, the cells of each computation time as
// native/browser accepted-after counts summed over the repetitions.
func printSeedMatrix(seeds map[string]result, repeat int) {
	runs := "1 run"
	if repeat > 1 {
		runs = fmt.Sprintf("%d runs", repeat)
	}
	var cms []string
	for _, d := range scenarios.SeedComputes() {
		cms = append(cms, strconv.Itoa(int(d/time.Millisecond)))
	}
	fmt.Printf("\nseed matrix: sends accepted %v or more after the server's close or drop, native/chromium,\n"+
		"summed over %s of %d sends; each column holds the cells of %s ms of computation;\n"+
		"! = not identical or a promise broken, x = could not run (see below)\n",
		scenarios.SeedMargin, runs, scenarios.SeedSends, strings.Join(cms, ", "))
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "server\tshape")
	for _, sv := range scenarios.SeedServers() {
		fmt.Fprint(tw, "\t"+sv)
	}
	fmt.Fprintln(tw)
	for _, peer := range scenarios.SeedPeers() {
		for _, shape := range scenarios.SeedShapes() {
			line := peer + "\t" + shape
			seen := false
			for _, sv := range scenarios.SeedServers() {
				var cells []string
				for _, d := range scenarios.SeedComputes() {
					name := scenarios.SeedCell{Peer: peer, Shape: shape, Server: sv, Compute: d}.Name()
					res, ok := seeds[name]
					if !ok {
						cells = append(cells, "-")
						continue
					}
					seen = true
					cells = append(cells, res.seedCell())
				}
				line += "\t" + strings.Join(cells, " ")
			}
			if seen {
				fmt.Fprintln(tw, line)
			}
		}
	}
	tw.Flush()
}

// seedCell renders a cell: native/browser accepted-after counts summed over
// the repetitions, then "x" when a run failed, "!" when not identical.
func (r result) seedCell() string {
	count := func(ts []scenarios.Trace) (string, bool) {
		n, failed := 0, false
		for _, t := range ts {
			n += t.Counts[scenarios.AcceptedAfterClose]
			failed = failed || t.Failure != ""
		}
		return strconv.Itoa(n), failed
	}
	a, fa := count(r.native)
	b, fb := count(r.browser)
	s := a + "/" + b
	switch {
	case fa || fb:
		s += "x"
	case !r.identical():
		s += "!"
	}
	return s
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
