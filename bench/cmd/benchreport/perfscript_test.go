package main

import (
	"os"
	"reflect"
	"testing"
)

// TestPerfSummary parses a hand-made `perf script` output and checks the
// main thread's summary within a 2 ms window at 4000 Hz: the other
// thread and the late sample are left out, and the 8 sampling slots the
// thread was not running in count as idle.
func TestPerfSummary(t *testing.T) {
	f, err := os.Open("testdata/perf_script.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	samples, err := parsePerfScript(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 8 {
		t.Fatalf("%d samples, want 8", len(samples))
	}
	if s := samples[6]; s.comm != "JSC Heap Collec" || s.pid != 4242 || s.tid != 4250 {
		t.Errorf("sample 6: %q %d/%d, want JSC Heap Collec 4242/4250", s.comm, s.pid, s.tid)
	}
	if fr := samples[4].frames[0]; fr.sym != "finish_task_switch.isra.0" || fr.dso != "[kernel.kallsyms]" {
		t.Errorf("kernel frame %+v", fr)
	}
	s := perfSummary(samples, 4242, 100.0, 100.002, 4000, "dualws")
	wantGroups := map[string]int{groupWasm: 2, groupGlue: 1, groupDOM: 1, groupKernel: 1, groupGC: 1, groupIdle: 2}
	if g := s.groups(); !reflect.DeepEqual(g, wantGroups) {
		t.Errorf("groups %v, want %v", g, wantGroups)
	}
	wantSelf := []countedName{
		{"runtime.addspecial (wasm)", 2},
		{"?? (libwebkit2gtk-4.1.so.0.19.9)", 1},
		{"JSC::Heap::collectInMutatorThread()", 1},
		{"finish_task_switch.isra.0", 1},
		{"syscall/js.valueGet (JS)", 1},
	}
	if got := s.selfTop("", 10); !reflect.DeepEqual(got, wantSelf) {
		t.Errorf("self top\n got %v\nwant %v", got, wantSelf)
	}
	wantIncl := []countedName{
		{"runtime.addspecial (wasm)", 2},
		{"syscall/js.valueGet (JS)", 2},
		{"wasm_pc_f_loop (wasm)", 2},
	}
	if got := s.inclusiveTop(3); !reflect.DeepEqual(got, wantIncl) {
		t.Errorf("inclusive top\n got %v\nwant %v", got, wantIncl)
	}
	// Plain JS's page: its JIT functions are the page's own.
	if g := perfSummary(samples, 4242, 100.0, 100.002, 4000, "js").groups(); g[groupPageJS] != 1 || g[groupGlue] != 0 {
		t.Errorf("impl js: groups %v, want the JS function as page JS", g)
	}
}
