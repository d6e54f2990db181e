package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dualws/dualws/bench/internal/clients"
	"github.com/dualws/dualws/bench/load"
)

// LoadSizes are the load part's settings.
type LoadSizes struct {
	Conns    int           // echo load: connections per library
	Size     int           // echo load: message size
	Interval time.Duration // echo load: each connection sends once per Interval
	Warmup   time.Duration // echo load: not recorded, at the start of each turn
	Duration time.Duration // echo load: recorded time per library, split over Turns
	Workers  int           // churn: connections in progress at once
	Cycles   int           // churn: dial, send, close cycles per worker, split over Turns
	Turns    int           // the libraries take turns this many times
}

// EchoStats summarises one library's echo-load runs.
type EchoStats struct {
	P50, P99, P999, Max float64   // µs, over every recorded round trip of every turn
	TurnP99             []float64 // µs, each turn's p99
	Samples, Skipped    int
	DialSeconds         float64 // the slowest turn's dialing of every connection
	CPUSeconds          float64 // client process, over the recorded stretches
}

// ChurnStats summarises one library's churn runs.
type ChurnStats struct {
	PerSecond     float64   // connections over every turn / their summed time
	TurnPerSecond []float64 // each turn's rate
	Conns         int
	P50, P99      float64 // µs, one cycle (dial, send, close)
	CPUSeconds    float64 // client process, over the runs
}

// LoadResults holds the load part's figures.
type LoadResults struct {
	Sizes LoadSizes
	Echo  map[string]EchoStats
	Churn map[string]ChurnStats
}

// turnOrder is the libraries' order in turn t: rotated by t, so that no
// library always runs first after the server started or after another's
// connections closed.
func turnOrder(libs []string, t int) []string {
	out := make([]string, 0, len(libs))
	for i := range libs {
		out = append(out, libs[(i+t)%len(libs)])
	}
	return out
}

// split divides total into n parts that differ by at most one.
func split(total, n, i int) int {
	q, r := total/n, total%n
	if i < r {
		return q + 1
	}
	return q
}

// summarizeEcho pools the turns' round trips.
func summarizeEcho(runs []load.EchoResult) EchoStats {
	var st EchoStats
	var all []float32
	for _, r := range runs {
		all = append(all, r.RTTMicros...)
		st.TurnP99 = append(st.TurnP99, load.Percentile(r.RTTMicros, 0.99))
		st.Skipped += r.Skipped
		st.DialSeconds = max(st.DialSeconds, r.DialSeconds)
		st.CPUSeconds += r.CPUSeconds
	}
	st.Samples = len(all)
	p := load.Percentiles(all, 0.5, 0.99, 0.999, 1)
	st.P50, st.P99, st.P999, st.Max = p[0], p[1], p[2], p[3]
	return st
}

// summarizeChurn adds the turns up.
func summarizeChurn(runs []load.ChurnResult) ChurnStats {
	var st ChurnStats
	var secs float64
	var all []float32
	for _, r := range runs {
		st.Conns += r.Conns
		secs += r.Seconds
		st.TurnPerSecond = append(st.TurnPerSecond, r.PerSecond())
		st.CPUSeconds += r.CPUSeconds
		all = append(all, r.CycleMicros...)
	}
	if secs > 0 {
		st.PerSecond = float64(st.Conns) / secs
	}
	p := load.Percentiles(all, 0.5, 0.99)
	st.P50, st.P99 = p[0], p[1]
	return st
}

// runLoad starts one server process (benchreport memserver) and, for each
// turn and library, one benchreport loadclient process: first the echo
// load, then the churn.
func runLoad(ctx context.Context, sz LoadSizes, logf func(string, ...any)) (*LoadResults, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if sz.Turns < 1 {
		sz.Turns = 1
	}
	addr, stop, err := startServer(ctx, sz.Conns+sz.Workers+1000)
	if err != nil {
		return nil, err
	}
	defer stop()
	url := "ws://" + addr + "/echo"
	res := &LoadResults{Sizes: sz, Echo: map[string]EchoStats{}, Churn: map[string]ChurnStats{}}
	run := func(out any, args ...string) error {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(cctx, self, append([]string{"loadclient"}, args...)...)
		cmd.Stderr = os.Stderr
		b, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("loadclient %v: %w", args, err)
		}
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("loadclient %v: output: %w", args, err)
		}
		return nil
	}
	echo := map[string][]load.EchoResult{}
	for t := range sz.Turns {
		dur := sz.Duration / time.Duration(sz.Turns)
		for _, lib := range turnOrder(clients.Names, t) {
			var r load.EchoResult
			if err := run(&r, "-mode", "echo", "-lib", lib, "-url", url, "-conns", strconv.Itoa(sz.Conns), "-size", strconv.Itoa(sz.Size),
				"-interval", sz.Interval.String(), "-warmup", sz.Warmup.String(), "-duration", dur.String()); err != nil {
				return res, err
			}
			logf("load echo %s turn %d: %d round trips, p50 %.0f µs, p99 %.0f µs, %d skipped, dialed in %.1f s",
				lib, t+1, len(r.RTTMicros), load.Percentile(r.RTTMicros, 0.5), load.Percentile(r.RTTMicros, 0.99), r.Skipped, r.DialSeconds)
			echo[lib] = append(echo[lib], r)
		}
	}
	for lib, runs := range echo {
		res.Echo[lib] = summarizeEcho(runs)
	}
	churn := map[string][]load.ChurnResult{}
	for t := range sz.Turns {
		cycles := split(sz.Cycles, sz.Turns, t)
		for _, lib := range turnOrder(clients.Names, t) {
			var r load.ChurnResult
			if err := run(&r, "-mode", "churn", "-lib", lib, "-url", url, "-workers", strconv.Itoa(sz.Workers), "-cycles", strconv.Itoa(cycles), "-size", strconv.Itoa(sz.Size)); err != nil {
				return res, err
			}
			logf("load churn %s turn %d: %d connections in %.1f s, %.0f conns/s", lib, t+1, r.Conns, r.Seconds, r.PerSecond())
			churn[lib] = append(churn[lib], r)
		}
	}
	for lib, runs := range churn {
		res.Churn[lib] = summarizeChurn(runs)
	}
	return res, nil
}

// loadClient is the loadclient subcommand: one load.Echo or load.Churn
// run of one library, printed as JSON.
func loadClient(args []string) error {
	fs := flag.NewFlagSet("loadclient", flag.ContinueOnError)
	mode := fs.String("mode", "echo", "echo or churn")
	lib := fs.String("lib", "dualws", "library (dualws, coder, gorilla)")
	url := fs.String("url", "", "ws:// URL of an echo endpoint")
	conns := fs.Int("conns", 2000, "echo: connections")
	size := fs.Int("size", 128, "message size")
	interval := fs.Duration("interval", 100*time.Millisecond, "echo: each connection sends once per interval")
	warmup := fs.Duration("warmup", time.Second, "echo: not recorded")
	duration := fs.Duration("duration", 10*time.Second, "echo: recorded")
	workers := fs.Int("workers", 500, "churn: connections in progress at once")
	cycles := fs.Int("cycles", 100, "churn: cycles per worker")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := clients.Check(*lib); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx := context.Background()
	var out any
	switch *mode {
	case "echo":
		if err := raiseFileLimit(uint64(*conns) + 500); err != nil {
			return err
		}
		r, err := load.Echo(ctx, load.EchoConfig{Lib: *lib, URL: *url, Conns: *conns, Size: *size, Interval: *interval, Warmup: *warmup, Duration: *duration})
		if err != nil {
			return err
		}
		out = r
	case "churn":
		if err := raiseFileLimit(uint64(*workers) + 500); err != nil {
			return err
		}
		r, err := load.Churn(ctx, load.ChurnConfig{Lib: *lib, URL: *url, Workers: *workers, Cycles: *cycles, Size: *size})
		if err != nil {
			return err
		}
		out = r
	default:
		return fmt.Errorf("unknown mode %q", *mode)
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// loadMarkdown writes the load part's section.
func (r *Report) loadMarkdown(p func(string, ...any)) {
	l := r.Load
	sz := l.Sizes
	p("")
	p("## Load and churn (bench/load)")
	p("")
	p("One server process (`benchreport memserver`: bench/internal/wsserver's /echo, so that the server shares no Go runtime, scheduler or garbage collector with the client under test) and one client process per library and turn (`benchreport loadclient`), one library at a time, in rounds (%d here), each round in an order rotated from the last. Client and server compete for the machine's %d cores: the figures include the server's share and any other load on the machine. Keepalive pings are off in every library.", sz.Turns, runtime.NumCPU())
	p("")
	p("- Echo load: %s connections per library, each sending %d B (binary) every %s, its send times spread evenly over the interval, and reading the echo before its next; %s recorded per library (split over the turns) after %s of warm-up in each turn. A round trip is timed from just before Send to Receive's return; a send slot that passes while the previous round trip still runs is skipped and counted, not sent late. Percentiles by nearest rank over every recorded round trip of every turn.", commas(sz.Conns), sz.Size, human(sz.Interval), human(sz.Duration), human(sz.Warmup))
	p("- Churn: %d workers at once, each doing %d cycles in a row (split over the turns) of dial, send one %d B message, close with 1000 and wait for the closing handshake: %s connections per library. Connections per second = connections / the turns' summed wall time.", sz.Workers, sz.Cycles, sz.Size, commas(sz.Workers*sz.Cycles))
	p("- Client CPU: the client process's user + system time (getrusage) over the recorded stretch (echo) or the whole run (churn), divided by the round trips or connections.")
	p("")
	libs := []string{"dualws", "coder", "gorilla"}
	p("| figure | dualws | coder/websocket | gorilla/websocket |")
	p("|---|---|---|---|")
	row := func(name string, cell func(lib string) string) {
		cells := make([]string, len(libs))
		for i, lib := range libs {
			cells[i] = cell(lib)
		}
		p("| %s | %s |", name, strings.Join(cells, " | "))
	}
	echo := func(f func(EchoStats) string) func(string) string { return libCell(l.Echo, f) }
	churn := func(f func(ChurnStats) string) func(string) string { return libCell(l.Churn, f) }
	span := func(v []float64) string {
		if len(v) < 2 {
			return ""
		}
		return fmt.Sprintf(" (%s–%s)", fnum(slices.Min(v)), fnum(slices.Max(v)))
	}
	for _, lib := range libs {
		if st, ok := l.Echo[lib]; ok && st.Skipped*100 > st.Samples+st.Skipped {
			p("**Overloaded:** %s skipped %.1f%% of its send slots, so the machine did not keep up with the load for it; its round-trip tail measures queueing behind the CPU, not the library alone.", lib, 100*float64(st.Skipped)/float64(st.Samples+st.Skipped))
			p("")
		}
	}
	row("echo RTT p50 µs", echo(func(s EchoStats) string { return fnum(s.P50) }))
	row("echo RTT p99 µs (turns' range)", echo(func(s EchoStats) string { return fnum(s.P99) + span(s.TurnP99) }))
	row("echo RTT p99.9 µs", echo(func(s EchoStats) string { return fnum(s.P999) }))
	row("echo RTT max µs", echo(func(s EchoStats) string { return fnum(s.Max) }))
	row("round trips recorded / slots skipped", echo(func(s EchoStats) string { return fmt.Sprintf("%d / %d", s.Samples, s.Skipped) }))
	row("client CPU per round trip µs", echo(func(s EchoStats) string { return perUnit(s.CPUSeconds, s.Samples) }))
	row(fmt.Sprintf("time to dial all %s connections, s (slowest turn)", commas(sz.Conns)), echo(func(s EchoStats) string { return fmt.Sprintf("%.2f", s.DialSeconds) }))
	row("churn connections/s (turns' range)", churn(func(s ChurnStats) string { return fnum(s.PerSecond) + span(s.TurnPerSecond) }))
	row("churn cycle p50 / p99 ms", churn(func(s ChurnStats) string { return fmt.Sprintf("%.2f / %.2f", s.P50/1000, s.P99/1000) }))
	row("churn client CPU per connection µs", churn(func(s ChurnStats) string { return perUnit(s.CPUSeconds, s.Conns) }))
}

// perUnit is seconds/n in microseconds, or "–".
func perUnit(seconds float64, n int) string {
	if n <= 0 || seconds <= 0 {
		return "–"
	}
	return fnum(seconds / float64(n) * 1e6)
}

// human writes d as "100 ms" or "30 s".
func human(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%d s", d/time.Second)
	}
	if d%time.Millisecond == 0 {
		return fmt.Sprintf("%d ms", d/time.Millisecond)
	}
	return d.String()
}

// libCell returns a table cell per library: f of its figures, or "–"
// when the library has none.
func libCell[T any](byLib map[string]T, f func(T) string) func(lib string) string {
	return func(lib string) string {
		st, ok := byLib[lib]
		if !ok {
			return "–"
		}
		return f(st)
	}
}
