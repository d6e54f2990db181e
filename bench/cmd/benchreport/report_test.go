package main

import (
	"strings"
	"testing"
)

const benchOut = `goos: linux
BenchmarkReceive/dualws/32B-2   	 100	  800 ns/op	  900000 msg/s	     512 B/op	       1 allocs/op
BenchmarkReceive/dualws/32B-2   	 100	  800 ns/op	  700000 msg/s	     512 B/op	       1 allocs/op
BenchmarkReceive/dualws/32B-2   	 100	  800 ns/op	  800000 msg/s	     512 B/op	       3 allocs/op
BenchmarkReceive/coder/32B-2    	 100	  800 ns/op	 1000000 msg/s	     512 B/op	       1 allocs/op
BenchmarkEcho/dualws-2          	 100	  800 ns/op	       9.5 p50-µs	  40 p99-µs
PASS
`

func TestParseBenchMedians(t *testing.T) {
	m := parseBench(benchOut)
	if got := m["Receive/dualws/32B"]["msg/s"]; got != 800000 {
		t.Errorf("median msg/s = %v, want 800000", got)
	}
	if got := m["Receive/dualws/32B"]["allocs/op"]; got != 1 {
		t.Errorf("median allocs/op = %v, want 1", got)
	}
	if got := m["Echo/dualws"]["p99-µs"]; got != 40 {
		t.Errorf("p99 = %v, want 40", got)
	}
	if _, ok := m["Receive/dualws/32B-2"]; ok {
		t.Error("the GOMAXPROCS suffix was kept")
	}
}

func TestTargetsFlagMisses(t *testing.T) {
	r := &Report{Native: parseBench(benchOut), Sizes: []SizeResult{{Name: "dualws", Raw: 50}, {Name: "coder", Raw: 100}, {Name: "floor", Raw: 45}}}
	byName := map[string]target{}
	for _, tg := range r.targets() {
		byName[tg.name] = tg
	}
	recv := byName["native receive 32 B: dualws / coder msg/s"]
	if !recv.known || recv.ok {
		t.Errorf("0.80× receive should be a known miss: %+v", recv)
	}
	allocs := byName["native receive 32 B: allocs/msg"]
	if !allocs.known || !allocs.ok {
		t.Errorf("1 vs 1 allocs should be met: %+v", allocs)
	}
	size := byName["bundle: dualws / coder stripped size"]
	if !size.known || size.ok {
		t.Errorf("50%% of coder should miss the 45%% target: %+v", size)
	}
	floor := byName["bundle: dualws / syscall/js floor stripped size"]
	if !floor.known || !floor.ok {
		t.Errorf("1.11× the floor should meet the 1.25× target: %+v", floor)
	}
	if send := byName["native send 32 B: dualws / coder msg/s"]; send.known {
		t.Errorf("send was not measured but is reported: %+v", send)
	}
	md := r.markdown()
	if !strings.Contains(md, "| native receive 32 B: dualws / coder msg/s | ≥ 0.95× | 0.800× (800k vs 1000k) | **missed** |") {
		t.Errorf("markdown lacks the missed receive row:\n%s", md)
	}
}
