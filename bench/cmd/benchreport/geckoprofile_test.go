package main

import (
	"os"
	"reflect"
	"testing"
)

// TestGeckoSummary reads a hand-made Gecko profile: a parent process and
// two content processes, one of which loaded the page (its strings hold
// the page's host). Only that thread's samples within the window count;
// each is named by its innermost named frame (raw addresses skipped) and
// grouped by that frame's file or the innermost category.
func TestGeckoSummary(t *testing.T) {
	f, err := os.Open("testdata/gecko_small.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := parseGecko(f)
	if err != nil {
		t.Fatal(err)
	}
	ff := &firefoxProfiler{host: "127.0.0.1:9"}
	if !geckoHasThread(p, ff.pageThread) {
		t.Fatal("geckoHasThread: the page's thread not found")
	}
	// The child's startTime is 2000: samples at 1..10 (and 9.5, without a
	// stack) are in, the one at 20 is out.
	ts, err := geckoSummaries(p, ff.pageThread, 2000.5, 2010.5)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].label != "GeckoMain pid 20 (tab)" {
		t.Fatalf("threads %+v, want only GeckoMain pid 20 (tab)", ts)
	}
	s := ts[0].profSummary
	wantGroups := map[string]int{groupWasm: 3, groupGlue: 2, groupDOM: 1, groupGC: 1, groupIdle: 1, groupOther: 3}
	if g := s.groups(); !reflect.DeepEqual(g, wantGroups) {
		t.Errorf("groups %v, want %v", g, wantGroups)
	}
	wantSelf := []countedName{
		{"github.com_dualws_dualws.__jsConn_.write (dualws.wasm:1687114)", 3},
		{"XRE_InitChildProcess", 2},
		{"syscall/js.valueCall (wasm_exec.js:367:28)", 2},
		{"(unnamed native code)", 1},
		{"Minor GC", 1},
		{"PollWrapper", 1},
		{"WebSocket.send", 1},
	}
	if got := s.selfTop("", 10); !reflect.DeepEqual(got, wantSelf) {
		t.Errorf("self top\n got %v\nwant %v", got, wantSelf)
	}
	wantIncl := []countedName{
		{"XRE_InitChildProcess", 10},
		{"EventHandlerNonNull", 7},
		{"github.com_dualws_dualws.__jsConn_.write (dualws.wasm:1687114)", 6},
	}
	if got := s.inclusiveTop(3); !reflect.DeepEqual(got, wantIncl) {
		t.Errorf("inclusive top\n got %v\nwant %v", got, wantIncl)
	}
	if s.busy() != 10 || s.total() != 11 {
		t.Errorf("busy %d of %d samples, want 10 of 11", s.busy(), s.total())
	}
}

func TestGeckoFuncName(t *testing.T) {
	for in, want := range map[string]string{
		"busy (http://127.0.0.1:1/index.html:2:14)[1]": "busy (index.html:2:14)",
		"runtime.mallocgc (http://h:1/dualws.wasm:77)": "runtime.mallocgc (dualws.wasm:77)",
		"apply (self-hosted:2610:23)":                  "apply (self-hosted:2610:23)",
		"PWebSocket::Msg_SendBinaryMsg":                "PWebSocket::Msg_SendBinaryMsg",
	} {
		if got := geckoFuncName(in); got != want {
			t.Errorf("geckoFuncName(%q) = %q, want %q", in, got, want)
		}
	}
}
