package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/dualws/dualws/scenarios"
	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

// env is shared by every test of the binary: one bundle, one server, one
// Chromium.
var env *Env

func TestMain(m *testing.M) {
	var err error
	env, err = Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	env.Close()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// TestParity runs every scenario but the seed matrix natively and in
// Chromium and requires the same trace, timings aside.
func TestParity(t *testing.T) {
	for _, name := range scenarios.Names() {
		if _, ok := scenarios.ParseSeedCell(name); ok {
			continue // TestSeedMatrix
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			native := env.Native(ctx, name)
			br, console, err := env.Browser(ctx, name)
			if err != nil {
				t.Fatalf("%v\nbrowser console:\n%s", err, strings.Join(console, "\n"))
			}
			assert.Empty(t, native.Failure, "native run failed")
			assert.Empty(t, br.Failure, "browser run failed")
			assert.Equal(t, name, br.Scenario)
			if d := scenarios.Diff(native, br); d != "" {
				t.Errorf("native and browser traces differ (native | browser):\n%s", d)
			}
			t.Logf("close detection: native %.1f ms, browser %.1f ms", native.CloseDetectMS, br.CloseDetectMS)
		})
	}
}

// TestSeedMatrix runs every cell of the seed matrix natively and in
// Chromium, one at a time (the cells measure scheduling: other work in
// parallel would distort them), against both servers. Each cell must have
// the same trace on both platforms and no send accepted after the server's
// close or drop.
func TestSeedMatrix(t *testing.T) {
	for _, name := range scenarios.Names() {
		if _, ok := scenarios.ParseSeedCell(name); !ok {
			continue
		}
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			native := env.Native(ctx, name)
			br, console, err := env.Browser(ctx, name)
			if err != nil {
				t.Fatalf("%v\nbrowser console:\n%s", err, strings.Join(console, "\n"))
			}
			assert.Empty(t, native.Failure, "native run failed")
			assert.Empty(t, br.Failure, "browser run failed")
			assert.Empty(t, native.Violations(), "native: %s", native.Notes["sends_vs_server_end"])
			assert.Empty(t, br.Violations(), "browser: %s", br.Notes["sends_vs_server_end"])
			if d := scenarios.Diff(native, br); d != "" {
				t.Errorf("native and browser traces differ (native | browser):\n%s", d)
			}
		})
	}
}

// TestBrowserUnknownScenario checks that the harness reports a scenario it
// does not know instead of hanging or passing.
func TestBrowserUnknownScenario(t *testing.T) {
	tr, _, err := env.Browser(t.Context(), "no-such-scenario")
	if err != nil {
		t.Fatal(err)
	}
	assert.Contains(t, tr.Failure, "unknown scenario")
}
