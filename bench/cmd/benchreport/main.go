// Command benchreport runs every dualws benchmark side by side with the
// libraries a user would pick instead, on this machine in one run, and
// writes BENCHMARKS.md: native throughput, latency and allocations (go
// test -bench in bench/native), browser throughput and close detection in
// headless Chromium, Firefox and WebKit (-engines), js/wasm bundle sizes,
// and memory at 10,000 idle connections.
//
// bench/ is its own module (bench/go.mod, with a replace back to the root
// module), so run it from the bench directory (make bench does):
//
//	cd bench && go run ./cmd/benchreport -out ../BENCHMARKS.md
//
// -quick uses tiny sizes, for a smoke run; -parts selects the parts.
// The subcommands memserver and memclient are the processes of the memory
// benchmark, started by the command itself; turns measures each engine's
// event-loop turns (turns.go).
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dualws/dualws/internal/engine"
)

func main() {
	if len(os.Args) > 1 {
		var err error
		switch os.Args[1] {
		case "memserver":
			err = memServer(os.Args[2:])
		case "memclient":
			err = memClient(os.Args[2:])
		case "loadclient":
			err = loadClient(os.Args[2:])
		case "turns":
			err = turns(os.Args[2:])
		default:
			err = report(os.Args[1:])
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchreport:", err)
			os.Exit(1)
		}
		return
	}
	if err := report(nil); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

// Report is everything one run measured.
type Report struct {
	Start     time.Time
	Elapsed   time.Duration
	Machine   string
	GoVersion string
	Quick     bool
	Commands  []string

	Native    map[string]map[string]float64    // benchmark → unit → median value
	Spread    map[string]map[string][2]float64 // benchmark → unit → min, max over the runs
	NativeRaw string
	CheckCost *CheckCost // nil when not run
	Sizes     []SizeResult
	Brotli    string // "" when the brotli column is there, else why not
	Mem       []MemResult
	MemN      int
	Browser   *BrowserResults
	Load      *LoadResults
	Errors    []string
	PartTimes []string // "part: duration", in run order
}

func report(args []string) error {
	fs := flag.NewFlagSet("benchreport", flag.ContinueOnError)
	out := fs.String("out", "BENCHMARKS.md", "write the report here ('-' for stdout)")
	quick := fs.Bool("quick", false, "tiny sizes: a smoke run, not a measurement")
	parts := fs.String("parts", "native,size,mem,load,browser", "comma-separated parts to run (native, size, mem, load, browser)")
	count := fs.Int("count", 5, "native: rounds of every benchmark, each running every benchmark once (the report shows medians)")
	benchtime := fs.String("benchtime", "1s", "native: -benchtime")
	checkRounds := fs.Int("check-rounds", 20, "native: paired rounds measuring the close check's cost on send 32 B (0: skip)")
	memN := fs.Int("mem-conns", 10000, "memory: idle connections per library")
	loadConns := fs.Int("load-conns", 2000, "load: echo connections per library")
	loadDur := fs.Duration("load-duration", 30*time.Second, "load: recorded echo time per library, split over -load-turns")
	churnWorkers := fs.Int("churn-workers", 500, "load: churn connections in progress at once")
	churnCycles := fs.Int("churn-cycles", 200, "load: churn cycles per worker, split over -load-turns")
	loadTurns := fs.Int("load-turns", 2, "load: the libraries take turns this many times")
	profile := fs.String("browser-profile", "", "browser: print a CPU profile of one case's page main thread, e.g. dualws/recv64k (cases: recv32 recv64k send32 send64k): Chromium's DevTools profiler (Chromium then runs under DevTools, whose Network domain slows every WebSocket figure of that run), Firefox's Gecko profiler (on for the whole run), WebKit under perf (root or perf_event_paranoid ≤ 1); the run's figures are then not for the report")
	enginesFlag := fs.String("engines", "", "browser: comma-separated engines (chromium, firefox, webkit; default all three)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logf := func(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }
	want := map[string]bool{}
	for _, p := range strings.Split(*parts, ",") {
		want[strings.TrimSpace(p)] = true
	}
	sizes := BrowserSizes{Small: 50000, Large: 2000, Reps: 5, Warm: 25, Closes: 15}
	if *quick {
		*count, *benchtime, *memN, *checkRounds = 1, "1x", 100, 1
		sizes = BrowserSizes{Small: 200, Large: 10, Reps: 1, Closes: 1}
		*loadConns, *loadDur, *churnWorkers, *churnCycles, *loadTurns = 20, time.Second, 10, 5, 1
	}
	loadSizes := LoadSizes{Conns: *loadConns, Size: 128, Interval: 100 * time.Millisecond, Warmup: 2 * time.Second, Duration: *loadDur,
		Workers: *churnWorkers, Cycles: *churnCycles, Turns: *loadTurns}
	if *quick {
		loadSizes.Warmup = 200 * time.Millisecond
	}
	engines, err := engine.ParseList(*enginesFlag)
	if err != nil {
		return err
	}
	sizes.Profile = *profile
	r := &Report{Start: time.Now(), Machine: machine(), GoVersion: runtime.Version(), Quick: *quick, MemN: *memN}
	ctx := context.Background()
	fail := func(part string, err error) {
		logf("%s: %v", part, err)
		r.Errors = append(r.Errors, part+": "+err.Error())
	}
	var partStart time.Time
	begin := func() { partStart = time.Now() }
	end := func(part string) {
		d := time.Since(partStart).Round(time.Second)
		r.PartTimes = append(r.PartTimes, fmt.Sprintf("%s %s", part, d))
		logf("%s: done in %s", part, d)
	}
	if want["native"] {
		begin()
		r.Commands = append(r.Commands, fmt.Sprintf("go test -c ./native; the binary -test.run=NONE -test.bench=. -test.benchmem -test.benchtime=%s, once per round, %d rounds, the libraries in reverse order every other round (DUALWS_BENCH_REVERSE=1); not go test -count, which runs a benchmark's runs back to back, one library's in one stretch of the machine and the next library's in another", *benchtime, *count))
		logf("native: %d rounds of every benchmark", *count)
		out, err := runNativeRounds(ctx, *count, *benchtime, logf)
		r.NativeRaw = out
		if err != nil {
			fail("native", err)
		}
		r.Native, r.Spread = parseBenchSpread(out)
		if *checkRounds > 0 {
			r.Commands = append(r.Commands, fmt.Sprintf("go test -c ./native, with and without -tags dualws_bench_nosendcheck; each binary -test.bench '%s' -test.benchtime %s, %d rounds, the order swapped every round", checkCostBench, *benchtime, *checkRounds))
			cc, err := runCheckCost(ctx, *checkRounds, *benchtime, logf)
			r.CheckCost = cc
			if err != nil {
				fail("native close check", err)
			}
		}
		end("native")
	}
	if want["size"] {
		begin()
		r.Commands = append(r.Commands, `GOOS=js GOARCH=wasm go build -ldflags="-s -w" ./size/{dualws,coder,floor} (in bench/); gzip -9; brotli -q 11`)
		logf("size: building the bundle-size programs")
		res, brotli, err := runSizes()
		r.Sizes, r.Brotli = res, brotli
		if err != nil {
			fail("size", err)
		}
		end("size")
	}
	if want["mem"] {
		begin()
		r.Commands = append(r.Commands, fmt.Sprintf("benchreport memserver + benchreport memclient -lib {dualws,coder} -n %d (one process each)", *memN))
		logf("mem: %d idle connections per library", *memN)
		res, err := runMem(ctx, *memN)
		r.Mem = res
		if err != nil {
			fail("mem", err)
		}
		end("mem")
	}
	if want["load"] {
		r.Commands = append(r.Commands, fmt.Sprintf("benchreport memserver + benchreport loadclient -lib {dualws,coder,gorilla} (one process per library and turn): echo %d conns × %d B every %s, %s recorded per library over %d round(s), each after %s of warm-up; churn %d workers × %d cycles of dial, send %d B, close 1000", loadSizes.Conns, loadSizes.Size, human(loadSizes.Interval), human(loadSizes.Duration), loadSizes.Turns, human(loadSizes.Warmup), loadSizes.Workers, loadSizes.Cycles, loadSizes.Size))
		logf("load: %d connections per library, then churn %d × %d", loadSizes.Conns, loadSizes.Workers, loadSizes.Cycles)
		begin()
		res, err := runLoad(ctx, loadSizes, logf)
		r.Load = res
		if err != nil {
			fail("load", err)
		}
		end("load")
	}
	if want["browser"] {
		begin()
		r.Commands = append(r.Commands, sizes.command(engines))
		res, err := runBrowser(ctx, sizes, engines, logf)
		r.Browser = res
		if err != nil {
			fail("browser", err)
		}
		end("browser")
	}
	r.Elapsed = time.Since(r.Start)
	md := r.markdown()
	if *out == "-" {
		_, err := os.Stdout.WriteString(md)
		return err
	}
	if err := os.WriteFile(*out, []byte(md), 0o644); err != nil {
		return err
	}
	logf("wrote %s in %s", *out, r.Elapsed.Round(time.Second))
	if len(r.Errors) > 0 {
		return fmt.Errorf("%d part(s) failed: %s", len(r.Errors), strings.Join(r.Errors, "; "))
	}
	return nil
}

func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		if len(f) >= 2 {
			kb, _ := strconv.ParseFloat(f[1], 64)
			mem = fmt.Sprintf(", %.1f GiB RAM", kb/(1<<20))
		}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = ", Linux " + strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%s, %d cores%s%s, %s/%s", model, runtime.NumCPU(), mem, kernel, runtime.GOOS, runtime.GOARCH)
}

// parseBench reads go test -bench output into benchmark → unit → median
// of the native rounds. The -N GOMAXPROCS suffix is dropped.
func parseBench(out string) map[string]map[string]float64 {
	med, _ := parseBenchSpread(out)
	return med
}

// parseBenchSpread is parseBench that also returns each figure's minimum
// and maximum over the runs.
func parseBenchSpread(out string) (map[string]map[string]float64, map[string]map[string][2]float64) {
	all := map[string]map[string][]float64{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		if all[name] == nil {
			all[name] = map[string][]float64{}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			all[name][f[i+1]] = append(all[name][f[i+1]], v)
		}
	}
	med := map[string]map[string]float64{}
	spread := map[string]map[string][2]float64{}
	for name, units := range all {
		med[name] = map[string]float64{}
		spread[name] = map[string][2]float64{}
		for u, vs := range units {
			slices.Sort(vs)
			med[name][u] = vs[len(vs)/2]
			spread[name][u] = [2]float64{vs[0], vs[len(vs)-1]}
		}
	}
	return med, spread
}

// SizeResult is one bundle-size program.
type SizeResult struct {
	Name              string
	Raw, Gzip, Brotli int
}

func runSizes() ([]SizeResult, string, error) {
	dir, err := os.MkdirTemp("", "benchsize")
	if err != nil {
		return nil, "", err
	}
	defer os.RemoveAll(dir)
	brotliNote := ""
	brotli, err := exec.LookPath("brotli")
	if err != nil {
		brotliNote = "the brotli command is not installed (Debian package brotli; make bench installs it when run as root)"
	}
	var res []SizeResult
	for _, name := range []string{"dualws", "coder", "floor"} {
		out := filepath.Join(dir, name+".wasm")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./size/"+name)
		cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
		if b, err := cmd.CombinedOutput(); err != nil {
			return res, brotliNote, fmt.Errorf("building %s: %w\n%s", name, err, b)
		}
		raw, err := os.ReadFile(out)
		if err != nil {
			return res, brotliNote, err
		}
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		zw.Write(raw)
		zw.Close()
		s := SizeResult{Name: name, Raw: len(raw), Gzip: gz.Len()}
		if brotli != "" {
			b, err := exec.Command(brotli, "-q", "11", "-c", out).Output()
			if err != nil {
				return res, brotliNote, fmt.Errorf("brotli %s: %w", name, err)
			}
			s.Brotli = len(b)
		}
		res = append(res, s)
	}
	return res, brotliNote, nil
}
