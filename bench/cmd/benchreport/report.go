package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// target is one row of the targets table. issue is "12" for the rows of
// issue 12's table (performance, round 2), "" for targets of earlier
// rounds.
type target struct {
	name, want, got, issue string
	ok, known              bool
}

func (r *Report) nat(bench, unit string) (float64, bool) {
	m, ok := r.Native[bench]
	if !ok {
		return 0, false
	}
	v, ok := m[unit]
	return v, ok
}

// natRange is a native figure's minimum and maximum over the native rounds.
func (r *Report) natRange(bench, unit string) ([2]float64, bool) {
	sp, ok := r.Spread[bench][unit]
	return sp, ok
}

// natMax is a native figure's maximum over the native rounds.
func (r *Report) natMax(bench, unit string) (float64, bool) {
	if sp, ok := r.natRange(bench, unit); ok {
		return sp[1], true
	}
	return r.nat(bench, unit)
}

// natCell formats a native figure's median with its range over the runs
// in parentheses, when the runs differ; "–" when it was not measured.
func (r *Report) natCell(bench, unit, format string) string {
	v, ok := r.nat(bench, unit)
	if !ok {
		return "–"
	}
	cell := fmt.Sprintf(format, v)
	if sp, ok := r.natRange(bench, unit); ok && sp[0] != sp[1] {
		cell += " (" + fmt.Sprintf(format, sp[0]) + "–" + fmt.Sprintf(format, sp[1]) + ")"
	}
	return cell
}

// runsNote gives the ranges of two native figures over the native rounds,
// as "; runs a–b vs c–d", or "" when there was only one run.
func (r *Report) runsNote(benchA, benchB, unit string, f func(float64) string) string {
	a, okA := r.natRange(benchA, unit)
	b, okB := r.natRange(benchB, unit)
	if !okA || !okB || (a[0] == a[1] && b[0] == b[1]) {
		return ""
	}
	return fmt.Sprintf("; runs %s–%s vs %s–%s", f(a[0]), f(a[1]), f(b[0]), f(b[1]))
}

func fnum(v float64) string {
	switch {
	case v >= 100000:
		return fmt.Sprintf("%.0fk", v/1000)
	case v >= 10000:
		return fmt.Sprintf("%.1fk", v/1000)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func mb(n int) string { return fmt.Sprintf("%.2f MB", float64(n)/1e6) }

// spanNote gives the range of each library's per-turn figures, as
// "; turns a–b vs c–d", or "" with fewer than two turns.
func spanNote(a, b []float64, f func(float64) string) string {
	if len(a) < 2 || len(b) < 2 {
		return ""
	}
	return fmt.Sprintf("; turns %s–%s vs %s–%s", f(slices.Min(a)), f(slices.Max(a)), f(slices.Min(b)), f(slices.Max(b)))
}

func status(t target) string {
	switch {
	case !t.known:
		return "not measured"
	case t.ok:
		return "met"
	}
	return "**missed**"
}

// Native close-check cost: natively dualws's Send checks for a close that
// has reached the socket (readiness_native.go). No build of dualws without
// that check exists, so its cost on send 32 B cannot be measured apart;
// 1 − dualws/coder send 32 B bounds it from above, since a dualws Send is
// a coder/websocket Write plus dualws's own work, of which the check is a
// part.
const maxCloseCheckCost = 0.03

func (r *Report) targets() []target {
	var ts []target
	ratio := func(issue, name string, a, b float64, okA, okB bool, min float64, note string) {
		t := target{issue: issue, name: name, want: fmt.Sprintf("≥ %.2f×", min), known: okA && okB && b > 0}
		if t.known {
			x := a / b
			t.got, t.ok = fmt.Sprintf("%.3f× (%s vs %s%s)", x, fnum(a), fnum(b), note), x >= min
		}
		ts = append(ts, t)
	}
	atMost := func(issue, name string, a, b float64, okA, okB bool, maxR float64, unit, note string) {
		t := target{issue: issue, name: name, want: fmt.Sprintf("≤ %.2f×", maxR), known: okA && okB && b > 0}
		if t.known {
			x := a / b
			t.got, t.ok = fmt.Sprintf("%.3f× (%s vs %s%s)", x, fnum(a), strings.TrimSpace(fnum(b)+" "+unit), note), x <= maxR
		}
		ts = append(ts, t)
	}
	natRatio := func(issue, label, bench, unit string, min float64) {
		da, db := fmt.Sprintf(bench, "dualws"), fmt.Sprintf(bench, "coder")
		a, okA := r.nat(da, unit)
		b, okB := r.nat(db, unit)
		ratio(issue, label, a, b, okA, okB, min, r.runsNote(da, db, unit, fnum))
	}
	natAtMost := func(issue, label, bench, unit string, maxR float64, u string) {
		da, db := fmt.Sprintf(bench, "dualws"), fmt.Sprintf(bench, "coder")
		a, okA := r.nat(da, unit)
		b, okB := r.nat(db, unit)
		atMost(issue, label, a, b, okA, okB, maxR, u, r.runsNote(da, db, unit, fnum))
	}
	// Issue 12's table, in its order.
	natRatio("12", "native receive 32 B: dualws / coder msg/s", "Receive/%s/32B", "msg/s", 1.0)
	natRatio("12", "native receive 64 KiB: dualws / coder msg/s", "Receive/%s/64KiB", "msg/s", 1.0)
	natAtMost("12", "native echo round trip 32 B, p50: dualws / coder", "Echo/%s", "p50-µs", 1.1, "µs")
	natAtMost("12", "native echo round trip 32 B, p99: dualws / coder", "Echo/%s", "p99-µs", 1.2, "µs")
	ts = append(ts, r.loadTargets()...)
	natAtMost("12", "native close → CLOSED, idle client: dualws / coder reader", "CloseDetect/%s/idle", "closed-µs", 1.1, "µs")
	natAtMost("12", "native server's close → first failing Send, client sending: dualws / coder", "CloseDetect/%s/busy", "closefail-µs", 1.1, "µs")
	ts = append(ts, r.nativeSeedTargets()...)
	// Issue 12's browser rows, and issue 13's: a row per engine for each
	// browser target (browser.go).
	ts = append(ts, r.Browser.targets()...)

	// Targets of earlier rounds that issue 12 leaves as they were.
	natRatio("", "native send 32 B: dualws / coder msg/s", "Send/%s/32B", "msg/s", 0.95)
	natRatio("", "native send 64 KiB: dualws / coder msg/s", "Send/%s/64KiB", "msg/s", 0.95)
	for _, c := range []struct{ bench, label string }{
		{"Receive/%s/32B", "receive 32 B"}, {"Receive/%s/64KiB", "receive 64 KiB"},
		{"Send/%s/32B", "send 32 B"}, {"Send/%s/64KiB", "send 64 KiB"},
	} {
		a, okA := r.nat(fmt.Sprintf(c.bench, "dualws"), "allocs/op")
		b, okB := r.nat(fmt.Sprintf(c.bench, "coder"), "allocs/op")
		t := target{name: "native " + c.label + ": allocs/msg", want: "≤ coder + 1", known: okA && okB}
		if t.known {
			t.got, t.ok = fmt.Sprintf("%.0f vs %.0f", a, b), a <= b+1
		}
		ts = append(ts, t)
	}
	zero := func(name string, v float64, ok bool) {
		t := target{name: name, want: "0", known: ok}
		if ok {
			t.got, t.ok = fmt.Sprintf("%.0f", v), v == 0
		}
		ts = append(ts, t)
	}
	v, ok := r.natMax("CloseDetect/dualws/idle", "seeds-max")
	zero("native dualws sends accepted after CLOSED (max over runs)", v, ok)
	size := map[string]SizeResult{}
	for _, s := range r.Sizes {
		size[s.Name] = s
	}
	if d, ok := size["dualws"]; ok {
		c, okC := size["coder"]
		f, okF := size["floor"]
		t := target{name: "bundle: dualws / coder stripped size", want: "≤ 45%", known: okC}
		if okC {
			x := float64(d.Raw) / float64(c.Raw)
			t.got, t.ok = fmt.Sprintf("%.0f%% (%s vs %s)", 100*x, mb(d.Raw), mb(c.Raw)), x <= 0.45
		}
		ts = append(ts, t)
		t = target{name: "bundle: dualws / syscall/js floor stripped size", want: "≤ 1.25×", known: okF}
		if okF {
			x := float64(d.Raw) / float64(f.Raw)
			t.got, t.ok = fmt.Sprintf("%.2f× (%s vs %s)", x, mb(d.Raw), mb(f.Raw)), x <= 1.25
		}
		ts = append(ts, t)
	}
	if len(r.Mem) == 2 {
		d, c := r.Mem[0], r.Mem[1]
		atMost("", fmt.Sprintf("memory at %d idle conns: RSS per conn, dualws / coder", r.MemN), d.RSSPerConn()/1024, c.RSSPerConn()/1024, true, true, 1.2, "KiB", "")
		atMost("", fmt.Sprintf("memory at %d idle conns: goroutines per conn, dualws / coder", r.MemN), d.GoroutinesPerConn(), c.GoroutinesPerConn(), true, true, 1.2, "", "")
	}
	return ts
}

// loadTargets are issue 12's load and churn rows.
func (r *Report) loadTargets() []target {
	conns, per := "2,000", "100 ms"
	if l := r.Load; l != nil {
		conns, per = commas(l.Sizes.Conns), human(l.Sizes.Interval)
	}
	p99 := target{issue: "12", name: fmt.Sprintf("%s connections × 128 B every %s, echo RTT p99: dualws / coder", conns, per), want: "≤ 1.10×"}
	churn := target{issue: "12", name: "connection churn (dial, send, close 1000), connections/s: dualws / coder", want: "≥ 1.00×"}
	if l := r.Load; l != nil {
		d, okD := l.Echo["dualws"]
		c, okC := l.Echo["coder"]
		if p99.known = okD && okC && c.P99 > 0; p99.known {
			x := d.P99 / c.P99
			p99.got = fmt.Sprintf("%.3f× (%s vs %s µs%s)", x, fnum(d.P99), fnum(c.P99), spanNote(d.TurnP99, c.TurnP99, fnum))
			p99.ok = x <= 1.1
		}
		dc, okD := l.Churn["dualws"]
		cc, okC := l.Churn["coder"]
		if churn.known = okD && okC && cc.PerSecond > 0; churn.known {
			x := dc.PerSecond / cc.PerSecond
			churn.got = fmt.Sprintf("%.3f× (%s vs %s%s)", x, fnum(dc.PerSecond), fnum(cc.PerSecond), spanNote(dc.TurnPerSecond, cc.TurnPerSecond, fnum))
			churn.ok = x >= 1.0
		}
	}
	return []target{p99, churn}
}

// nativeSeedTargets are issue 12's native seed row, split in two: the
// seeds (the maximum over every run) and the cost of dualws's close check
// on send 32 B, which can only be bounded (maxCloseCheckCost).
func (r *Report) nativeSeedTargets() []target {
	seeds := target{issue: "12", name: "native sends accepted more than one RTT after the server's close, sending back to back: dualws, max over runs", want: "≤ 64"}
	if v, ok := r.natMax("CloseDetect/dualws/busy", "seeds-max"); ok {
		seeds.known, seeds.ok = true, v <= 64
		seeds.got = fmt.Sprintf("%.0f", v)
		if sp, ok := r.natRange("CloseDetect/dualws/busy", "seeds-max"); ok && sp[0] != sp[1] {
			seeds.got += fmt.Sprintf(" (runs' maxima %.0f–%.0f)", sp[0], sp[1])
		}
		if c, ok := r.natMax("CloseDetect/coder/busy", "seeds-max"); ok {
			seeds.got += fmt.Sprintf("; coder %.0f", c)
		}
	}
	cost := target{issue: "12", name: "… at a cost of the close check on native send 32 B", want: fmt.Sprintf("≤ %.0f%%", 100*maxCloseCheckCost)}
	if cc := r.CheckCost; cc != nil && len(cc.Ratios) > 0 {
		c := cc.Cost()
		cost.known, cost.ok = true, c <= maxCloseCheckCost
		cost.got = fmt.Sprintf("%.1f%% (1 − median of %d paired rounds' ratios with / without the check, %.3f; rounds %.3f–%.3f; %s vs %s msg/s)",
			100*c, len(cc.Ratios), 1-c, slices.Min(cc.Ratios), slices.Max(cc.Ratios), fnum(median(cc.With)), fnum(median(cc.Without)))
	} else if a, okA := r.nat("Send/dualws/32B", "msg/s"); okA {
		if b, okB := r.nat("Send/coder/32B", "msg/s"); okB && b > 0 {
			// Known, so that an unproven cost shows as missed, never as met.
			bound := 1 - a/b
			cost.known, cost.ok = true, bound <= maxCloseCheckCost
			cost.got = fmt.Sprintf("not measured apart (the paired check-cost run did not run); bound 1 − dualws/coder send 32 B = %.1f%% (%s vs %s msg/s)", 100*bound, fnum(a), fnum(b))
		}
	}
	return []target{seeds, cost}
}

// commas writes n with thousands separated by commas.
func commas(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func (r *Report) markdown() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	p("# dualws benchmarks")
	p("")
	p("Generated by `make bench` (`cd bench && go run ./cmd/benchreport`) on %s in %s; every figure below comes from that one run, all libraries measured side by side on the same machine. Do not edit by hand: the analysis at the end comes from bench/analysis.md.", r.Start.UTC().Format("2006-01-02 15:04 MST"), r.Elapsed.Round(time.Second))
	if r.Quick {
		p("")
		p("**Quick run (-quick): tiny sizes, the figures are not measurements.**")
	}
	p("")
	p("- Machine: %s", r.Machine)
	p("- Go: %s", r.GoVersion)
	if r.Browser != nil {
		p("- Browsers: %s; headless", r.Browser.versions())
	}
	if len(r.PartTimes) > 0 {
		p("- Time per part: %s", strings.Join(r.PartTimes, ", "))
	}
	p("- Commands:")
	for _, c := range r.Commands {
		p("  - `%s`", c)
	}
	if len(r.Errors) > 0 {
		p("")
		p("**Parts that failed in this run:**")
		for _, e := range r.Errors {
			p("- %s", strings.ReplaceAll(e, "\n", " "))
		}
	}
	p("")
	p("## Targets")
	p("")
	p("The first table has every row of issue 12's table (performance, round 2), in its order, its browser rows once per engine (issue 13); the second the other browser throughput rows per engine; the third the targets of earlier rounds that issues 12 and 13 leave as they were. Native figures are medians of the native rounds (every benchmark once per round, the libraries seconds apart) with each library's range over the rounds; load figures pool every turn, with each library's range over the turns.")
	var missed []target
	var issue12, issue13, earlier []target
	for _, t := range r.targets() {
		switch t.issue {
		case "12":
			issue12 = append(issue12, t)
		case "13":
			issue13 = append(issue13, t)
		default:
			earlier = append(earlier, t)
		}
		if t.known && !t.ok {
			missed = append(missed, t)
		}
	}
	for _, tbl := range []struct {
		title string
		ts    []target
	}{{"Issue 12", issue12}, {"Issue 13: the other browser throughput rows, per engine", issue13}, {"Earlier rounds", earlier}} {
		p("")
		p("### %s", tbl.title)
		p("")
		p("| target | wanted | measured | status |")
		p("|---|---|---|---|")
		for _, t := range tbl.ts {
			got := t.got
			if !t.known {
				got = "–"
			}
			p("| %s | %s | %s | %s |", t.name, t.want, got, status(t))
		}
	}
	if len(missed) > 0 {
		p("")
		p("Missed in this run: %d of the targets above; reasons and next steps are in the analysis at the end.", len(missed))
	}

	if r.Native != nil {
		p("")
		p("## Native throughput (bench/native)")
		p("")
		p("Client libraries against one in-process server (bench/internal/wsserver) that writes pre-built frames and drains without allocating; binary messages; one op = one message; medians of the native rounds, with their range in parentheses (this 2-core VM is noisy: judge a ratio against that range). `server ceiling` is the same server driven by a raw TCP client that only copies bytes: the most any client can get here.")
		p("")
		p("| client | receive 32 B msg/s | receive 64 KiB msg/s | send 32 B msg/s | send 64 KiB msg/s | allocs/msg r32 / r64K / s32 / s64K | B/msg r32 / r64K |")
		p("|---|---|---|---|---|---|---|")
		for _, lib := range []string{"dualws", "coder", "gorilla"} {
			var cells []string
			for _, c := range []string{"Receive/%s/32B", "Receive/%s/64KiB", "Send/%s/32B", "Send/%s/64KiB"} {
				v, _ := r.nat(fmt.Sprintf(c, lib), "msg/s")
				cell := fnum(v)
				if sp, ok := r.Spread[fmt.Sprintf(c, lib)]["msg/s"]; ok && sp[0] != sp[1] {
					cell += fmt.Sprintf(" (%s–%s)", fnum(sp[0]), fnum(sp[1]))
				}
				cells = append(cells, cell)
			}
			var allocs []string
			for _, c := range []string{"Receive/%s/32B", "Receive/%s/64KiB", "Send/%s/32B", "Send/%s/64KiB"} {
				v, _ := r.nat(fmt.Sprintf(c, lib), "allocs/op")
				allocs = append(allocs, fmt.Sprintf("%.0f", v))
			}
			r32, _ := r.nat(fmt.Sprintf("Receive/%s/32B", lib), "B/op")
			r64, _ := r.nat(fmt.Sprintf("Receive/%s/64KiB", lib), "B/op")
			name := lib
			if lib == "coder" {
				name = "coder/websocket (raw)"
			} else if lib == "gorilla" {
				name = "gorilla/websocket"
			}
			p("| %s | %s | %s | %s | %s | %s | %.0f / %.0f |", name, cells[0], cells[1], cells[2], cells[3], strings.Join(allocs, " / "), r32, r64)
		}
		var ceil []string
		for _, c := range []string{"ServerCeiling/push/32B", "ServerCeiling/push/64KiB", "ServerCeiling/sink/32B", "ServerCeiling/sink/64KiB"} {
			v, _ := r.nat(c, "msg/s")
			ceil = append(ceil, fnum(v))
		}
		p("| server ceiling | %s | %s | %s | %s | | |", ceil[0], ceil[1], ceil[2], ceil[3])
		p("")
		p("Echo round trip, 32 B, one message at a time (each run's p50 and p99; medians of the runs, their range in parentheses):")
		p("")
		p("| client | p50 µs | p99 µs | allocs/round trip |")
		p("|---|---|---|---|")
		for _, lib := range []string{"dualws", "coder", "gorilla"} {
			al, _ := r.nat("Echo/"+lib, "allocs/op")
			p("| %s | %s | %s | %.0f |", lib, r.natCell("Echo/"+lib, "p50-µs", "%.1f"), r.natCell("Echo/"+lib, "p99-µs", "%.1f"), al)
		}
		p("")
		p("## Native close detection")
		p("")
		p("The client sends \"close\"; the server answers with a close frame (1000). idle: the client then waits; busy: it sends 32 B messages back to back until Send fails. coder/websocket runs the reader goroutine an application needs to see a close. Seeds: Sends accepted that started more than one echo round trip after the server wrote its close frame (timed just before the write). Under the flood the frame can stay in the kernel for a millisecond or more before it reaches the client's socket: a trace of the client's checks found the socket empty at every check for 1.1–1.3 ms after the server's write had returned. Late: data messages the server received after its close. Times are medians of the native rounds' medians, with their range in parentheses; seeds p50 is the median of the runs' medians, seeds max, late max and sends accepted after CLOSED the maximum over all runs.")
		p("")
		p("In busy runs the request → times include the in-process server's own wake-up, which waits for a processor while the client's send loop runs (2 cores); the target therefore uses the time from the server's close write (taken just before the write) to the first failing Send.")
		p("")
		p("| client | idle: request → CLOSED µs | busy: request → CLOSED µs | busy: request → first failing Send µs | busy: server's close → first failing Send µs | seeds p50 / max | late max | sends accepted after CLOSED (idle) |")
		p("|---|---|---|---|---|---|---|---|")
		for _, lib := range []string{"dualws", "coder"} {
			idle, busy := "CloseDetect/"+lib+"/idle", "CloseDetect/"+lib+"/busy"
			s50, _ := r.nat(busy, "seeds-p50")
			smax, _ := r.natMax(busy, "seeds-max")
			late, _ := r.natMax(busy, "late-max")
			after, _ := r.natMax(idle, "seeds-max")
			p("| %s | %s | %s | %s | %s | %.0f / %.0f | %.0f | %.0f |", lib, r.natCell(idle, "closed-µs", "%.0f"), r.natCell(busy, "closed-µs", "%.0f"),
				r.natCell(busy, "sendfail-µs", "%.0f"), r.natCell(busy, "closefail-µs", "%.0f"), s50, smax, late, after)
		}
	}

	if br := r.Browser; br != nil {
		br.markdown(p) // a section per engine (browser.go)
	}

	if r.Load != nil {
		r.loadMarkdown(p)
	}

	if len(r.Sizes) > 0 {
		p("")
		p("## Bundle size (GOOS=js GOARCH=wasm, -ldflags=\"-s -w\")")
		p("")
		p("A minimal program that dials, sends one message, receives one and closes (bench/size).")
		p("")
		p("| program | stripped | gzip -9 | brotli -q 11 |")
		p("|---|---|---|---|")
		names := map[string]string{"dualws": "dualws", "coder": "coder/websocket", "floor": "syscall/js floor (no library)"}
		for _, s := range r.Sizes {
			br := "–"
			if s.Brotli > 0 {
				br = mb(s.Brotli)
			}
			p("| %s | %s | %s | %s |", names[s.Name], mb(s.Raw), mb(s.Gzip), br)
		}
		if r.Brotli != "" {
			p("")
			p("No brotli column: %s.", r.Brotli)
		}
	}

	if len(r.Mem) > 0 {
		p("")
		p("## Memory at scale")
		p("")
		p("%d idle connections per library, each library in its own process (the server in a third); resident memory and goroutines after dialing, GC and FreeOSMemory, minus the process's own before dialing. dualws with default options (a keepalive ping scheduled); coder/websocket with one reader goroutine per connection.", r.MemN)
		p("")
		p("| client | RSS per conn | goroutines per conn | Go heap in use | total RSS | dial time |")
		p("|---|---|---|---|---|---|")
		for _, m := range r.Mem {
			p("| %s | %.1f KiB | %.2f | %.1f MB | %.1f MB | %.1f s |", m.Lib, m.RSSPerConn()/1024, m.GoroutinesPerConn(), float64(m.HeapInuse)/1e6, float64(m.RSS)/1e6, m.DialSeconds)
		}
	}

	p("")
	p("## Analysis of missed targets")
	p("")
	if a, err := os.ReadFile("analysis.md"); err == nil {
		b.Write(a)
	} else {
		p("(bench/analysis.md not found)")
	}
	return b.String()
}
