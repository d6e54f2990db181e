//go:build !js

package faults

import (
	"net"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestFaults runs every case natively, one at a time.
func TestFaults(t *testing.T) {
	for _, c := range Cases {
		t.Run(c.Name, func(t *testing.T) {
			res := RunCase(c)
			for _, p := range res.Problems {
				t.Errorf("%s\n  promise: %s", p, c.Promise)
			}
		})
	}
}

// TestTableCoversIssue9 checks the table's size, that names are unique,
// that every case states a promise, and that each group and each defect
// of issue 9 has cases.
func TestTableCoversIssue9(t *testing.T) {
	if len(Cases) < 40 {
		t.Errorf("%d cases, want at least 40", len(Cases))
	}
	names := map[string]bool{}
	groups := map[string]int{}
	defects := map[int]int{}
	for _, c := range Cases {
		if names[c.Name] {
			t.Errorf("case %q appears twice", c.Name)
		}
		names[c.Name] = true
		if strings.TrimSpace(c.Promise) == "" {
			t.Errorf("case %q states no promise", c.Name)
		}
		if c.Server == nil {
			t.Errorf("case %q has no server", c.Name)
		}
		groups[c.Group]++
		defects[c.Defect]++
	}
	for _, g := range []string{"handshake", "framing", "closing", "liveness", "abrupt", "resources"} {
		if groups[g] == 0 {
			t.Errorf("no case in group %q", g)
		}
	}
	for d := 1; d <= 9; d++ {
		if defects[d] == 0 {
			t.Errorf("no case for defect %d", d)
		}
	}
}

// TestHarnessCatchesLeaks runs a client program that leaves a goroutine
// and a socket behind, and a case whose expectation is wrong: the harness
// must report all three.
func TestHarnessCatchesLeaks(t *testing.T) {
	release := make(chan struct{})
	var leaked net.Conn
	c := &Case{
		Name:   "leaky",
		Server: upgradeThen(closeBytes(1000, "")),
		Program: &Program{Name: "leaky", Client: func(r *Run) {
			receiveAndWait(r)
			go func() { <-release }()
			leaked, _ = net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(r.URL, "ws://"), "/ws"))
		}},
		Want: Want{Trace: dropped, Messages: 0},
	}
	res := RunCase(c)
	close(release)
	if leaked != nil {
		leaked.Close()
	}
	var gotGoroutine, gotSocket, gotTrace bool
	for _, p := range res.Problems {
		gotGoroutine = gotGoroutine || strings.Contains(p, "goroutines left")
		gotSocket = gotSocket || strings.Contains(p, "did not close its socket") || strings.Contains(p, "socket(s) left open")
		gotTrace = gotTrace || strings.Contains(p, "transitions")
	}
	if !gotGoroutine || !gotSocket || !gotTrace {
		t.Errorf("problems %q: want a leaked goroutine, a socket left open and a wrong trace reported", res.Problems)
	}
}
