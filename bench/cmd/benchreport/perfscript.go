package main

import (
	"bufio"
	"io"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// perfSample is one sample of `perf script -F comm,pid,tid,time,ip,sym,dso`
// (recorded with -g): the thread, the time in seconds on perf's clock,
// and the call chain, leaf first.
type perfSample struct {
	comm     string
	pid, tid int
	time     float64
	frames   []perfFrame
}

type perfFrame struct {
	sym string // "[unknown]" when perf could not name it
	dso string // the file's base name, "[kernel.kallsyms]", "jitted-123-4.so"
}

var (
	perfHeader  = regexp.MustCompile(`^(\S.*?)\s+(\d+)/(\d+)\s+(\d+\.\d+):\s*$`)
	perfFrameRe = regexp.MustCompile(`^\s+([0-9a-f]+)\s+(.*?)\s+\(([^()]*)\)$`)
)

// parsePerfScript reads perf script's output. Lines it does not know are
// skipped, so that a change of format loses samples rather than failing.
func parsePerfScript(r io.Reader) ([]perfSample, error) {
	var out []perfSample
	var cur *perfSample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			cur = nil
			continue
		}
		if m := perfHeader.FindStringSubmatch(line); m != nil {
			pid, _ := strconv.Atoi(m[2])
			tid, _ := strconv.Atoi(m[3])
			t, _ := strconv.ParseFloat(m[4], 64)
			out = append(out, perfSample{comm: m[1], pid: pid, tid: tid, time: t})
			cur = &out[len(out)-1]
			continue
		}
		if m := perfFrameRe.FindStringSubmatch(line); m != nil && cur != nil {
			sym := m[2]
			if i := strings.LastIndex(sym, "+0x"); i > 0 {
				sym = sym[:i]
			}
			cur.frames = append(cur.frames, perfFrame{sym: sym, dso: filepath.Base(m[3])})
		}
	}
	return out, sc.Err()
}

// jscName matches JSC's JIT dump names: "JSC-WasmOMG: <?>.wasm-function[NAME]"
// for wasm (tiers BBQ, OMG), "JSC-FTL: NAME#HASH" for JS (tiers Baseline,
// DFG, FTL).
var jscName = regexp.MustCompile(`^JSC-(Wasm(?:BBQ|OMG)|Baseline|DFG|FTL): (?:<\?>\.wasm-function\[(.*)\]|(.+?)#\w+)$`)

// name is the frame's function for the report: its symbol, or the file
// it is in when perf could not name it. JIT tiers of one function are
// merged: "NAME (wasm)", "NAME (JS)".
func (f perfFrame) name() string {
	if f.sym == "" || f.sym == "[unknown]" {
		return "?? (" + f.dso + ")"
	}
	if m := jscName.FindStringSubmatch(f.sym); m != nil {
		if m[2] != "" {
			return m[2] + " (wasm)"
		}
		if m[3] != "" {
			return m[3] + " (JS)"
		}
	}
	return f.sym
}

// webkitGroup puts a WebKit web process sample in a group by its leaf
// frame. JavaScript functions cannot be told apart by file in JSC's JIT
// dump, so they count as the page's JavaScript when the page runs plain
// JS (impl "js") and as wasm_exec.js glue otherwise (bench.js only starts
// and ends a case there).
func webkitGroup(f perfFrame, impl string) string {
	switch {
	case f.dso == "[kernel.kallsyms]" || strings.HasPrefix(f.dso, "[kernel"):
		return groupKernel
	case strings.HasPrefix(f.dso, "jitted-"):
		switch {
		case isWasmSym(f.sym):
			return groupWasm
		case strings.Contains(f.sym, "Thunk") || strings.Contains(f.sym, "LLInt") || strings.Contains(f.sym, "IC") && !strings.Contains(f.sym, "#"):
			return groupJSVM
		case strings.Contains(f.sym, "#"):
			if impl == "js" {
				return groupPageJS
			}
			return groupGlue
		}
		return groupJIT
	case strings.HasPrefix(f.dso, "libjavascriptcoregtk"):
		if isGCSym(f.sym) {
			return groupGC
		}
		return groupJSVM
	case strings.HasPrefix(f.dso, "libwebkit2gtk"):
		return groupDOM
	}
	return groupOther
}

// isWasmSym reports whether a JIT dump name is compiled wasm code.
func isWasmSym(s string) bool {
	return strings.Contains(s, "Wasm") || strings.Contains(s, "wasm") || strings.Contains(s, "BBQ") || strings.Contains(s, "OMG")
}

// isGCSym reports whether a JavaScriptCore function is the garbage
// collector's.
func isGCSym(s string) bool {
	for _, p := range []string{"JSC::Heap::", "JSC::SlotVisitor", "JSC::AbstractSlotVisitor", "JSC::MarkedBlock", "JSC::MarkedSpace", "JSC::BlockDirectory",
		"JSC::GCThread", "JSC::Subspace", "JSC::MarkStack", "JSC::PreciseAllocation", "JSC::WeakSet", "JSC::IsoCellSet", "JSC::ConservativeRoots",
		"JSC::MachineThreads", "JSC::GCActivityCallback", "JSC::FullGCActivityCallback", "JSC::EdenGCActivityCallback", "JSC::Heap", "JSC::GCClient",
		"JSC::visitChildren", "JSC::IncrementalSweeper", "JSC::FreeList", "JSC::LocalAllocator"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return strings.Contains(s, "::visitChildren") || strings.Contains(s, "::sweep")
}

// perfSummary reduces the samples of thread tid within [from, to] (perf's
// clock, s) to a profSummary; hz is the sampling rate, so that the time
// the thread was not running counts as idle.
func perfSummary(samples []perfSample, tid int, from, to float64, hz int, impl string) *profSummary {
	s := &profSummary{}
	for _, p := range samples {
		if p.tid != tid || p.time < from || p.time > to || len(p.frames) == 0 {
			continue
		}
		x := profSample{self: p.frames[0].name(), group: webkitGroup(p.frames[0], impl)}
		for _, f := range p.frames {
			x.stack = append(x.stack, f.name())
		}
		s.samples = append(s.samples, x)
	}
	if want := int(math.Round((to - from) * float64(hz))); want > len(s.samples) {
		s.idle = want - len(s.samples)
	}
	return s
}
