package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dualws/dualws/internal/browser"
	"github.com/dualws/dualws/internal/engine"
	"github.com/dualws/dualws/internal/postback"
	"github.com/dualws/dualws/internal/testrun"
	"github.com/dualws/dualws/scenarios"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// env is shared by every test of the binary: one bundle, one server, one
// chromedp Chromium, and at most one browser per engine (launched on first
// use).
var env *Env

// engines are the engines under test: $ENGINES (comma-separated), else
// all three.
var engines []engine.Name

var (
	browsersMu sync.Mutex
	browsers   = map[engine.Name]*Browser{}
	launchErr  = map[engine.Name]error{}
)

func TestMain(m *testing.M) {
	var err error
	if engines, err = ParseEngines(os.Getenv("ENGINES")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	env, err = Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The page-inspecting tests (csp, wss, dial errors) drive Chromium
	// through chromedp.
	env.bctx, env.stopBrow, err = browser.Start(context.Background())
	if err != nil {
		env.Close()
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	code := m.Run()
	for _, n := range engines {
		if b := browsers[n]; b != nil {
			launch, runs, d := b.Stats()
			fmt.Fprintf(os.Stderr, "e2e: %s ran %d scenarios in %.1fs after a launch of %.1fs (%s)\n",
				n, runs, d.Seconds(), launch.Seconds(), b.Agent())
		}
	}
	env.Close()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// browserFor returns the shared browser of engine n, launching it on first
// use. A browser broken by a failed run is replaced.
func browserFor(t *testing.T, n engine.Name) *Browser {
	t.Helper()
	browsersMu.Lock()
	defer browsersMu.Unlock()
	if b := browsers[n]; b != nil && b.Err() == nil {
		return b
	} else if b != nil {
		b.Close()
		delete(browsers, n)
	}
	if err := launchErr[n]; err != nil {
		t.Fatalf("%s did not start earlier: %v", n, err)
	}
	b, err := env.Launch(context.Background(), n)
	if err != nil {
		launchErr[n] = err
		t.Fatal(err)
	}
	browsers[n] = b
	return b
}

// runIn runs scenario name natively and in engine n and returns both
// traces.
func runIn(t *testing.T, n engine.Name, name string) (native, br scenarios.Trace) {
	t.Helper()
	b := browserFor(t, n)
	native = env.Native(t.Context(), name)
	br, err := b.Run(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return native, br
}

// TestParity runs every scenario but the seed matrix natively and in each
// engine, one scenario at a time, and requires the same trace, timings
// aside, or a known by-nature difference of the engine (Compare).
func TestParity(t *testing.T) {
	for _, n := range engines {
		t.Run(string(n), func(t *testing.T) {
			for _, name := range scenarios.Names() {
				if _, ok := scenarios.ParseSeedCell(name); ok {
					continue // TestSeedMatrix
				}
				t.Run(name, func(t *testing.T) {
					native, br := runIn(t, n, name)
					assert.Empty(t, native.Failure, "native run failed")
					assert.Empty(t, br.Failure, "%s run failed", n)
					assert.Equal(t, name, br.Scenario)
					same, note, diff := Compare(n, native, br)
					if !same {
						t.Errorf("native and %s traces differ (native | %s):\n%s", n, n, diff)
					}
					if note != "" {
						t.Logf("by nature in %s: %s", n, note)
					}
					t.Logf("close detection: native %.1f ms, %s %.1f ms", native.CloseDetectMS, n, br.CloseDetectMS)
				})
			}
		})
	}
}

// TestSeedMatrix runs every cell of the seed matrix natively and in each
// engine, one at a time (the cells measure scheduling: other work in
// parallel would distort them), against both servers. Each cell must have
// the same trace on both platforms (or a known by-nature difference) and
// no send accepted after the server's close or drop.
func TestSeedMatrix(t *testing.T) {
	for _, n := range engines {
		t.Run(string(n), func(t *testing.T) {
			for _, name := range scenarios.Names() {
				_, ok := scenarios.ParseSeedCell(name)
				if !ok {
					continue
				}
				t.Run(name, func(t *testing.T) {
					// A cell is run up to seedAttempts times and fails when
					// every attempt broke a promise: the matrix is timing
					// work on a shared 2-core machine, and a systematic break
					// (no yield, no reader check) fails every attempt. Each
					// failed attempt is logged.
					var problems []string
					for attempt := 1; attempt <= seedAttempts; attempt++ {
						native, br := runIn(t, n, name)
						problems = seedProblems(n, native, br)
						if len(problems) == 0 {
							return
						}
						t.Logf("attempt %d of %d:\n%s", attempt, seedAttempts, strings.Join(problems, "\n"))
					}
					t.Errorf("every attempt failed; the last:\n%s", strings.Join(problems, "\n"))
				})
			}
		})
	}
}

// seedAttempts is how many times TestSeedMatrix runs a cell before failing it.
const seedAttempts = 3

// seedProblems lists what a seed cell's two runs broke.
func seedProblems(n engine.Name, native, br scenarios.Trace) []string {
	var out []string
	if native.Failure != "" {
		out = append(out, "native run failed: "+native.Failure+"; "+native.Notes["sends_vs_server_end"]+"; "+native.Notes["timeline"])
	}
	if br.Failure != "" {
		out = append(out, string(n)+" run failed: "+br.Failure+"; "+br.Notes["sends_vs_server_end"]+"; "+br.Notes["timeline"])
	}
	for _, v := range native.Violations() {
		out = append(out, "native: "+v+": "+native.Notes["sends_vs_server_end"])
	}
	for _, v := range br.Violations() {
		out = append(out, string(n)+": "+v+": "+br.Notes["sends_vs_server_end"]+"; "+br.Notes["timeline"])
	}
	if same, _, diff := Compare(n, native, br); !same {
		out = append(out, "native and "+string(n)+" traces differ (native | "+string(n)+"):\n"+diff)
	}
	return out
}

// TestBrowserUnknownScenario checks that the harness in each engine reports
// a scenario it does not know instead of hanging or passing, and that the
// browser stays usable afterwards, also after a Reload (a fresh page).
func TestBrowserUnknownScenario(t *testing.T) {
	for _, n := range engines {
		t.Run(string(n), func(t *testing.T) {
			b := browserFor(t, n)
			tr, err := b.Run(t.Context(), "no-such-scenario")
			require.NoError(t, err)
			assert.Contains(t, tr.Failure, "unknown scenario")
			tr, err = b.Run(t.Context(), "echo")
			require.NoError(t, err)
			assert.Empty(t, tr.Failure)
			assert.Equal(t, "echo", tr.Scenario)
			require.NoError(t, b.Reload(t.Context()))
			tr, err = b.Run(t.Context(), "server-close")
			require.NoError(t, err)
			assert.Empty(t, tr.Failure)
			assert.Equal(t, "server-close", tr.Scenario)
		})
	}
}

// TestBrowserReportsAHungPage checks that Run gives up on a page that no
// longer asks for scenarios, as a hung or crashed page would, instead of
// waiting forever: the error names the engine, and the Browser stays
// broken.
func TestBrowserReportsAHungPage(t *testing.T) {
	n := engines[0]
	b, err := env.Launch(t.Context(), n)
	require.NoError(t, err)
	defer b.Close()
	b.RunTimeout = 2 * time.Second
	// Answer the page's pending request with "done": it stops asking.
	require.NoError(t, b.page.Send(t.Context(), scenarios.RemoteReply{Done: true}, 10*time.Second))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err = b.Run(ctx, "echo")
	require.Error(t, err)
	assert.NotErrorIs(t, err, context.DeadlineExceeded, "Run waited for its context, not its own timeout")
	assert.Contains(t, err.Error(), string(n))
	assert.Error(t, b.Err(), "the Browser is broken after a failed run")
	_, err = b.Run(ctx, "echo")
	assert.Error(t, err)
}

// TestLaunchAfterAStartupCrash launches, as Chromium, a script that dies
// of SIGSEGV the first crashes times and then runs Chromium: Launch
// replaces a browser that died before the page's first report, at most
// maxRelaunches times, and says so.
func TestLaunchAfterAStartupCrash(t *testing.T) {
	for _, crashes := range []int{1, maxRelaunches + 1} {
		t.Run(fmt.Sprint(crashes), func(t *testing.T) {
			script, err := testrun.CrashingChromium(t.TempDir(), crashes)
			if err != nil {
				t.Fatal(err)
			}
			t.Setenv("CHROMIUM", script)
			b, err := env.Launch(t.Context(), engine.Chromium)
			if crashes > maxRelaunches {
				require.Error(t, err)
				var exit *postback.ExitError
				assert.ErrorAs(t, err, &exit)
				return
			}
			require.NoError(t, err)
			defer b.Close()
			assert.Equal(t, crashes, b.Relaunches)
			tr, err := b.Run(t.Context(), "echo")
			require.NoError(t, err)
			assert.Equal(t, "echo", tr.Scenario)
		})
	}
}
