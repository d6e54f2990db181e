package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// CheckCost is what dualws's native close check costs a Send of 32 B: the
// same benchmark run from two test binaries, one built with the tag
// dualws_bench_nosendcheck (no check), taking turns, the order swapped
// every round, so that both see the same machine.
type CheckCost struct {
	Ratios  []float64 // per round: with the check / without, msg/s
	With    []float64 // msg/s per round
	Without []float64
}

// Cost is 1 − the median ratio: the share of throughput the check takes.
func (c *CheckCost) Cost() float64 { return 1 - median(c.Ratios) }

// checkCostBench is the benchmark both binaries run.
const checkCostBench = "^BenchmarkSend$/^dualws$/^32B$"

// runCheckCost builds both test binaries of bench/native and runs them
// rounds times each.
func runCheckCost(ctx context.Context, rounds int, benchtime string, logf func(string, ...any)) (*CheckCost, error) {
	dir, err := os.MkdirTemp("", "checkcost")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	with, without := filepath.Join(dir, "with.test"), filepath.Join(dir, "without.test")
	if err := buildNative(ctx, with); err != nil {
		return nil, err
	}
	if err := buildNative(ctx, without, "-tags", "dualws_bench_nosendcheck"); err != nil {
		return nil, err
	}
	run := func(bin string) (float64, error) {
		c := exec.CommandContext(ctx, bin, "-test.run=NONE", "-test.bench="+checkCostBench, "-test.benchtime="+benchtime)
		c.Dir = "native"
		out, err := c.CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("%s: %w\n%s", filepath.Base(bin), err, out)
		}
		v, ok := parseBench(string(out))["Send/dualws/32B"]["msg/s"]
		if !ok {
			return 0, fmt.Errorf("%s: no msg/s in\n%s", filepath.Base(bin), out)
		}
		return v, nil
	}
	res := &CheckCost{}
	for i := range rounds {
		order := []string{with, without}
		if i%2 == 1 {
			order = []string{without, with}
		}
		got := map[string]float64{}
		for _, bin := range order {
			v, err := run(bin)
			if err != nil {
				return res, err
			}
			got[bin] = v
		}
		res.With = append(res.With, got[with])
		res.Without = append(res.Without, got[without])
		res.Ratios = append(res.Ratios, got[with]/got[without])
		logf("native close check, round %d: %.0f msg/s with, %.0f without (%.3f)", i+1, got[with], got[without], got[with]/got[without])
	}
	return res, nil
}

// runNativeRounds builds bench/native's test binary and runs every
// benchmark once per round, rounds times, the libraries in reverse order
// every other round, returning the output of all rounds. The libraries of
// a benchmark run seconds apart in each round, so a machine that slows
// down for a while slows them alike, where go test -count runs one
// library's runs all before the next library's.
func runNativeRounds(ctx context.Context, rounds int, benchtime string, logf func(string, ...any)) (string, error) {
	dir, err := os.MkdirTemp("", "native")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "native.test")
	if err := buildNative(ctx, bin); err != nil {
		return "", err
	}
	var all strings.Builder
	for i := range rounds {
		c := exec.CommandContext(ctx, bin, "-test.run=NONE", "-test.bench=.", "-test.benchmem", "-test.benchtime="+benchtime)
		c.Dir = "native"
		c.Stderr = os.Stderr
		if i%2 == 1 {
			c.Env = append(os.Environ(), "DUALWS_BENCH_REVERSE=1")
		}
		out, err := c.Output()
		all.Write(out)
		if err != nil {
			return all.String(), fmt.Errorf("native round %d: %w\n%s", i+1, err, out)
		}
		logf("native: round %d of %d done", i+1, rounds)
	}
	return all.String(), nil
}

// buildNative builds bench/native's test binary at out, with flags.
func buildNative(ctx context.Context, out string, flags ...string) error {
	args := append(append([]string{"test", "-c"}, flags...), "-o", out, "./native")
	if b, err := exec.CommandContext(ctx, "go", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, b)
	}
	return nil
}
