// Command demo is `make demo`: it builds the browser harness, starts the
// scenario servers, runs every parity scenario natively and then in each
// browser engine (Chromium, Firefox, WebKit; one launch each, one scenario
// at a time), and prints a table of the outcomes with each platform's
// close-detection time, then the seed matrix (one line per server and
// client shape, each cell's accepted-after counts per platform). It ends
// with the line "parity: N/M scenarios identical (native, chromium, ...)",
// where each seed cell counts as a scenario and a scenario is identical
// only when every engine matches native (or differs in a known way by
// nature, printed as a note: e2e.Compare), and exits with status 1 unless
// every scenario was identical in every repetition and broke no promise
// (Trace.Violations).
//
// Usage:
//
//	go run ./e2e/demo [-engines chromium,firefox,webkit] [-run NAME|GLOB|PREFIX[,...]] [-repeat N] [-v]
//
// -engines defaults to $ENGINES, else all three.
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
	"github.com/dualws/dualws/internal/engine"
	"github.com/dualws/dualws/scenarios"
)

func main() {
	os.Exit(run())
}

func run() int {
	only := flag.String("run", "", "run only these scenarios: comma-separated names, globs (seed-go-*) or name prefixes (seed)")
	engs := flag.String("engines", os.Getenv("ENGINES"), "browser engines, comma-separated: chromium, firefox, webkit (default $ENGINES, else all three)")
	verbose := flag.Bool("v", false, "print every trace of every scenario")
	repeat := flag.Int("repeat", 1, "run every scenario this many times; a scenario is identical only if every repetition is")
	flag.Parse()
	if *repeat < 1 || *repeat > 100 {
		fmt.Fprintln(os.Stderr, "demo: -repeat must be between 1 and 100")
		return 2
	}
	engines, err := e2e.ParseEngines(*engs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 2
	}
	names, err := selectNames(scenarios.Names(), *only)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fmt.Fprintln(os.Stderr, "demo: building the harness and starting the scenario servers...")
	env, err := e2e.Start(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	defer env.Close()

	results := make([]*result, len(names))
	for i, name := range names {
		results[i] = &result{name: name, engines: engines, browser: make([][]scenarios.Trace, len(engines))}
	}
	start := time.Now()
	for _, res := range results {
		for range *repeat {
			res.native = append(res.native, env.Native(ctx, res.name))
		}
		if ctx.Err() != nil {
			return 1
		}
	}
	var timing []string
	timing = append(timing, fmt.Sprintf("native %.1fs", time.Since(start).Seconds()))
	var versions []string
	for ei, n := range engines {
		start := time.Now()
		fmt.Fprintf(os.Stderr, "demo: %s: launching...\n", n)
		b, err := env.Launch(ctx, n)
		if err == nil {
			if b.Relaunches > 0 {
				fmt.Fprintf(os.Stderr, "demo: %s: died while starting up; launched again %d time(s)\n", n, b.Relaunches)
			}
			fmt.Fprintf(os.Stderr, "demo: %s: running %d scenarios...\n", n, len(names)**repeat)
			v := engine.Version(n)
			if v == "" {
				v = b.Agent()
			}
			versions = append(versions, v)
		}
		for _, res := range results {
			for range *repeat {
				var tr scenarios.Trace
				if err == nil && b.Err() != nil {
					// The page stopped answering: start another.
					fmt.Fprintf(os.Stderr, "demo: %s: %v\ndemo: %s: launching again...\n", n, b.Err(), n)
					b.Close()
					b, err = env.Launch(ctx, n)
				}
				if err == nil {
					tr, err = b.Run(ctx, res.name)
					if err != nil {
						tr = scenarios.Trace{Scenario: res.name, Failure: err.Error(), CloseDetectMS: -1}
						err = nil // the next Run launches again
					}
				} else {
					tr = scenarios.Trace{Scenario: res.name, Failure: err.Error(), CloseDetectMS: -1}
				}
				res.browser[ei] = append(res.browser[ei], tr)
			}
			if ctx.Err() != nil {
				return 1
			}
		}
		if b != nil {
			b.Close()
		}
		timing = append(timing, fmt.Sprintf("%s %.1fs", n, time.Since(start).Seconds()))
	}

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	header := false
	identical := 0
	var diffs, notes []string
	var natures []natureNote
	seeds := map[string]*result{}
	for _, res := range results {
		if res.identical() {
			identical++
		}
		if _, ok := scenarios.ParseSeedCell(res.name); ok {
			seeds[res.name] = res
			if !res.identical() {
				diffs = append(diffs, res.seedWhy())
			}
			natures = append(natures, res.natureNotes()...)
		} else {
			if !header {
				h := "scenario\tnative\tdetect"
				for _, n := range engines {
					h += "\t" + string(n) + "\tdetect"
				}
				fmt.Fprintln(tw, h+"\tsame?")
				header = true
			}
			if !res.identical() {
				diffs = append(diffs, res.why())
			}
			notes = append(notes, res.traceNotes()...)
			natures = append(natures, res.natureNotes()...)
			line := fmt.Sprintf("%s\t%s\t%s", res.name, summary(res.native[0]), ms(res.native[0].CloseDetectMS))
			for ei := range engines {
				br := res.browser[ei][0]
				line += fmt.Sprintf("\t%s\t%s", summary(br), ms(br.CloseDetectMS))
			}
			fmt.Fprintln(tw, line+"\t"+res.mark())
		}
		if *verbose {
			tw.Flush()
			for i := range res.native {
				fmt.Printf("  %s run %d\n  %-9s %s\n", res.name, i+1, "native:", strings.Join(res.native[i].Lines(), "\n            "))
				for ei, n := range engines {
					fmt.Printf("  %-9s %s\n", string(n)+":", strings.Join(res.browser[ei][i].Lines(), "\n            "))
				}
			}
		}
	}
	tw.Flush()
	if len(seeds) > 0 {
		printSeedMatrix(seeds, engines, *repeat)
	}
	notes = append(notes, groupNatures(natures)...)
	if len(notes) > 0 {
		fmt.Println("\nnot compared (differs by nature between platforms):")
		for _, n := range notes {
			fmt.Println(n)
		}
	}
	for _, d := range diffs {
		fmt.Printf("\n%s", d)
	}
	fmt.Printf("\nengines: %s\ntime: %s\n", strings.Join(versions, "; "), strings.Join(timing, ", "))
	times := ""
	if *repeat > 1 {
		times = fmt.Sprintf(", each run %d times", *repeat)
	}
	platforms := []string{"native"}
	for _, n := range engines {
		platforms = append(platforms, string(n))
	}
	fmt.Printf("parity: %d/%d scenarios identical (%s%s)\n", identical, len(names), strings.Join(platforms, ", "), times)
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

// result holds the traces of every repetition of one scenario: native,
// and per engine (browser[i] for engines[i]).
type result struct {
	name    string
	engines []engine.Name
	native  []scenarios.Trace
	browser [][]scenarios.Trace
}

// sameIn reports whether repetition i in engine ei matches native (exactly
// or by a known difference of nature), both ran without failure, and
// neither broke a promise; note is the difference of nature, if any.
func (r *result) sameIn(ei, i int) (ok bool, note, diff string) {
	a := r.native[i]
	if i >= len(r.browser[ei]) {
		return false, "", "(did not run)\n"
	}
	b := r.browser[ei][i]
	same, note, diff := e2e.Compare(r.engines[ei], a, b)
	ok = same && a.Failure == "" && b.Failure == "" && len(a.Violations()) == 0 && len(b.Violations()) == 0
	return ok, note, diff
}

// same reports whether repetition i is identical in every engine.
func (r *result) same(i int) bool {
	for ei := range r.engines {
		if ok, _, _ := r.sameIn(ei, i); !ok {
			return false
		}
	}
	return true
}

func (r *result) sameCount() int {
	n := 0
	for i := range r.native {
		if r.same(i) {
			n++
		}
	}
	return n
}

func (r *result) identical() bool { return r.sameCount() == len(r.native) }

func (r *result) mark() string {
	switch n := r.sameCount(); {
	case n == len(r.native):
		return "yes"
	case len(r.native) == 1:
		return "NO"
	default:
		return fmt.Sprintf("NO (%d/%d same)", n, len(r.native))
	}
}

// traceNotes are the notes the traces carry (Trace.Notes), of the first
// repetition.
func (r *result) traceNotes() []string {
	parts := []string{"native " + noteString(r.native[0].Notes)}
	has := len(r.native[0].Notes) > 0
	for ei, n := range r.engines {
		if len(r.browser[ei]) == 0 {
			continue
		}
		parts = append(parts, string(n)+" "+noteString(r.browser[ei][0].Notes))
		has = has || len(r.browser[ei][0].Notes) > 0
	}
	if !has {
		return nil
	}
	return []string{fmt.Sprintf("  %s: %s", r.name, strings.Join(parts, "; "))}
}

// natureNote is one engine's by-nature difference in one scenario.
type natureNote struct {
	engine      engine.Name
	scenario    string
	count, runs int // repetitions where it showed, of runs
	note        string
}

// natureNotes are the engines whose trace differed from native by nature
// (e2e.Compare) in some repetition.
func (r *result) natureNotes() []natureNote {
	var out []natureNote
	for ei, n := range r.engines {
		nn := natureNote{engine: n, scenario: r.name, runs: len(r.native)}
		for i := range r.native {
			if _, note, _ := r.sameIn(ei, i); note != "" {
				nn.count++
				nn.note = note
			}
		}
		if nn.count > 0 {
			out = append(out, nn)
		}
	}
	return out
}

// groupNatures renders the notes one line per engine and difference, with
// the scenarios where it showed.
func groupNatures(ns []natureNote) []string {
	type key struct {
		engine engine.Name
		note   string
	}
	var order []key
	where := map[key][]string{}
	for _, n := range ns {
		k := key{n.engine, n.note}
		if _, ok := where[k]; !ok {
			order = append(order, k)
		}
		s := n.scenario
		if n.runs > 1 {
			s += fmt.Sprintf(" (%d/%d runs)", n.count, n.runs)
		}
		where[k] = append(where[k], s)
	}
	var out []string
	for _, k := range order {
		out = append(out, fmt.Sprintf("  %s, in %s: %s", k.engine, strings.Join(where[k], ", "), k.note))
	}
	return out
}

// why shows, for each engine that differs, its first differing repetition
// side by side with native, with the broken promises.
func (r *result) why() string {
	s := ""
	for ei, n := range r.engines {
		for i := range r.native {
			ok, _, diff := r.sameIn(ei, i)
			if ok {
				continue
			}
			head := r.name
			if len(r.native) > 1 {
				head += fmt.Sprintf(" run %d", i+1)
			}
			a, b := r.native[i], r.browser[ei][i]
			if diff == "" {
				diff = "  native:  " + strings.Join(a.Lines(), "; ") + "\n  " + string(n) + ": " + strings.Join(b.Lines(), "; ") + "\n"
			}
			s += fmt.Sprintf("%s (native | %s):\n%s", head, n, diff)
			for _, v := range a.Violations() {
				s += "  native broke a promise: " + v + "\n"
			}
			for _, v := range b.Violations() {
				s += "  " + string(n) + " broke a promise: " + v + "\n"
			}
			break
		}
	}
	return s
}

// seedWhy shows what each platform did in the first repetition that is not
// identical.
func (r *result) seedWhy() string {
	s := ""
	for i := range r.native {
		if r.same(i) {
			continue
		}
		head := r.name
		if len(r.native) > 1 {
			head += fmt.Sprintf(" run %d", i+1)
		}
		s += fmt.Sprintf("%s:\n  %-9s %s\n", head, "native:", seedLine(r.native[i]))
		for ei, n := range r.engines {
			s += fmt.Sprintf("  %-9s %s\n", string(n)+":", seedLine(r.browser[ei][i]))
		}
		break
	}
	return s
}

func seedLine(t scenarios.Trace) string {
	s := summary(t) + fmt.Sprintf("; accepted after the end: %d; judged sends refused with: %s", t.Counts[scenarios.AcceptedAfterClose], t.Facts["judged_sends_refused_with"])
	if t.Failure != "" {
		s = "FAILED: " + t.Failure
	}
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
// native/engine/... accepted-after counts summed over the repetitions.
func printSeedMatrix(seeds map[string]*result, engines []engine.Name, repeat int) {
	runs := "1 run"
	if repeat > 1 {
		runs = fmt.Sprintf("%d runs", repeat)
	}
	var cms []string
	for _, d := range scenarios.SeedComputes() {
		cms = append(cms, strconv.Itoa(int(d/time.Millisecond)))
	}
	platforms := "native"
	for _, n := range engines {
		platforms += "/" + string(n)
	}
	fmt.Printf("\nseed matrix: sends accepted %v or more after the server's close or drop, %s,\n"+
		"summed over %s of %d sends; each column holds the cells of %s ms of computation;\n"+
		"! = not identical or a promise broken, x = could not run (see below)\n",
		scenarios.SeedMargin, platforms, runs, scenarios.SeedSends, strings.Join(cms, ", "))
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

// seedCell renders a cell: the accepted-after counts of native and each
// engine summed over the repetitions, then "x" when a run failed, "!" when
// not identical.
func (r *result) seedCell() string {
	count := func(ts []scenarios.Trace) (string, bool) {
		n, failed := 0, false
		for _, t := range ts {
			n += t.Counts[scenarios.AcceptedAfterClose]
			failed = failed || t.Failure != ""
		}
		return strconv.Itoa(n), failed
	}
	s, failed := count(r.native)
	for ei := range r.engines {
		c, f := count(r.browser[ei])
		s += "/" + c
		failed = failed || f
	}
	switch {
	case failed:
		s += "x"
	case !r.identical():
		s += "!"
	}
	return s
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
