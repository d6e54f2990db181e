package main

import (
	"fmt"
	"slices"
	"strings"
)

// The groups a profile's samples are split into, in print order: where a
// page's main thread spends a throughput case.
const (
	groupWasm   = "wasm (Go code)"
	groupGlue   = "wasm_exec.js glue"
	groupPageJS = "page JS (bench.js)"
	groupJIT    = "JIT code, unnamed"
	groupDOM    = "engine: DOM/WebSocket/bindings"
	groupJSVM   = "engine: JS VM runtime"
	groupGC     = "GC"
	groupKernel = "kernel"
	groupOther  = "engine: other native"
	groupIdle   = "idle"
)

var groupOrder = []string{groupWasm, groupGlue, groupPageJS, groupJIT, groupDOM, groupJSVM, groupGC, groupKernel, groupOther, groupIdle}

// profSample is one sample of a page's main thread: the function it was
// in (self), its group, and every named function on its stack, leaf first
// (for inclusive time).
type profSample struct {
	self  string
	group string
	stack []string
}

// profSummary is the samples of one thread (or several) within a case.
type profSummary struct {
	samples []profSample
	// idle is the number of samples to count as idle on top of samples,
	// for profilers that only sample a running thread (perf): the
	// window's length at the sampling rate, minus the samples taken.
	idle int
}

func (s *profSummary) total() int { return len(s.samples) + s.idle }

type countedName struct {
	name string
	n    int
}

// top returns the n names with the highest counts, highest first (ties by
// name, so the order is stable).
func top(counts map[string]int, n int) []countedName {
	var out []countedName
	for k, v := range counts {
		out = append(out, countedName{k, v})
	}
	slices.SortFunc(out, func(a, b countedName) int {
		if a.n != b.n {
			return b.n - a.n
		}
		return strings.Compare(a.name, b.name)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// groups counts the samples per group (idle includes s.idle).
func (s *profSummary) groups() map[string]int {
	g := map[string]int{}
	for _, x := range s.samples {
		g[x.group]++
	}
	if s.idle > 0 {
		g[groupIdle] += s.idle
	}
	return g
}

// selfTop counts the samples per self function, over every sample or
// only those of one group ("" for all).
func (s *profSummary) selfTop(group string, n int) []countedName {
	c := map[string]int{}
	for _, x := range s.samples {
		if group == "" || x.group == group {
			c[x.self]++
		}
	}
	return top(c, n)
}

// inclusiveTop counts, per function, the samples with it on the stack.
func (s *profSummary) inclusiveTop(n int) []countedName {
	c := map[string]int{}
	for _, x := range s.samples {
		seen := map[string]bool{}
		for _, f := range x.stack {
			if !seen[f] {
				seen[f] = true
				c[f]++
			}
		}
	}
	return top(c, n)
}

// print writes the summary: the groups, the top self functions overall
// and within wasm, and the top inclusive functions.
func (s *profSummary) print(title string, logf func(string, ...any)) {
	total := s.total()
	if total == 0 {
		logf("%s: no samples", title)
		return
	}
	pct := func(n int) float64 { return 100 * float64(n) / float64(total) }
	logf("%s: %d samples", title, total)
	logf(" by group:")
	g := s.groups()
	for _, name := range groupOrder {
		if g[name] > 0 {
			logf("  %5.1f%% %6d  %s", pct(g[name]), g[name], name)
		}
	}
	logf(" top self time:")
	for _, e := range s.selfTop("", 30) {
		logf("  %5.1f%% %6d  %s", pct(e.n), e.n, e.name)
	}
	if g[groupWasm] > 0 {
		logf(" top self time in wasm (Go functions):")
		for _, e := range s.selfTop(groupWasm, 15) {
			logf("  %5.1f%% %6d  %s", pct(e.n), e.n, e.name)
		}
	}
	logf(" top inclusive time (samples with the function on the stack):")
	for _, e := range s.inclusiveTop(25) {
		logf("  %5.1f%% %6d  %s", pct(e.n), e.n, e.name)
	}
}

func (c countedName) String() string { return fmt.Sprintf("%d %s", c.n, c.name) }
