//go:build !js

// These tests start browsers, so they run on the host only.

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/dualws/dualws/internal/engine"
	"github.com/dualws/dualws/internal/testrun"
)

// testBin is testdata/wasmtest compiled for js/wasm; runnerBin is this
// command compiled for the host. TestMain builds both.
var testBin, runnerBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wasmbrowser-test-")
	if err != nil {
		panic(err)
	}
	testBin = filepath.Join(dir, "wasmtest.test")
	runnerBin = filepath.Join(dir, "wasmbrowser")
	build := func(env []string, args ...string) {
		cmd := exec.Command("go", args...)
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go %s: %v\n%s", strings.Join(args, " "), err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	build([]string{"GOOS=js", "GOARCH=wasm"}, "test", "-c", "-cover", "-o", testBin, "./testdata/wasmtest")
	build(nil, "build", "-o", runnerBin, ".")
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// syncBuffer is an output that the runner's HTTP handlers write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
	// onWrite, if set, sees everything written so far after each write.
	onWrite func(all string)
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Write(p)
	if s.onWrite != nil {
		s.onWrite(s.b.String())
	}
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func runTest(t *testing.T, browser engine.Name, out *syncBuffer, testArgs ...string) int {
	t.Helper()
	args := append([]string{"-browser", string(browser), testBin}, testArgs...)
	return run(args, out, out)
}

// runWorkerTest is runTest with -worker: the test runs in a dedicated
// Worker.
func runWorkerTest(t *testing.T, browser engine.Name, out *syncBuffer, testArgs ...string) int {
	t.Helper()
	args := append([]string{"-browser", string(browser), "-worker", testBin}, testArgs...)
	return run(args, out, out)
}

// TestExitStatus checks that the test's exit status and output come back
// from every engine, from the page and with -worker from a dedicated
// Worker (TestInWorker fails anywhere else, TestInPage fails there).
// Firefox and WebKit run the Worker case that proves it starts and
// reports there.
func TestExitStatus(t *testing.T) {
	cases := []struct {
		browser engine.Name
		worker  bool
		run     string
		code    int
		output  string
	}{
		{engine.Chromium, false, "TestPass", 0, "PASS"},
		{engine.Chromium, false, "TestExit3", 3, ""},
		{engine.Chromium, false, "TestPanic", 2, "panic: boom"},
		{engine.Chromium, false, "TestFail", 1, "failing on purpose"},
		{engine.Firefox, false, "TestFail", 1, "failing on purpose"},
		{engine.WebKit, false, "TestFail", 1, "failing on purpose"},
		{engine.Chromium, true, "TestInWorker", 0, "where: no document true, WorkerGlobalScope true, dedicated true\nPASS"},
		{engine.Chromium, true, "TestInPage", 1, "not in a page"},
		{engine.Chromium, false, "TestInWorker", 1, "not in a dedicated Worker"},
		{engine.Chromium, false, "TestInPage", 0, "where: document true\nPASS"},
		{engine.Chromium, true, "TestFail", 1, "failing on purpose"},
		{engine.Chromium, true, "TestExit3", 3, ""},
		{engine.Chromium, true, "TestPanic", 2, "panic: boom"},
		{engine.Firefox, true, "TestInWorker", 0, "dedicated true\nPASS"},
		{engine.WebKit, true, "TestInWorker", 0, "dedicated true\nPASS"},
	}
	for _, c := range cases {
		mode, runner := "page", runTest
		if c.worker {
			mode, runner = "worker", runWorkerTest
		}
		t.Run(string(c.browser)+"/"+mode+"/"+c.run, func(t *testing.T) {
			var out syncBuffer
			code := runner(t, c.browser, &out, "-test.run=^"+c.run+"$")
			if code != c.code || !strings.Contains(out.String(), c.output) {
				t.Fatalf("exit %d, want %d, with %q in the output:\n%s", code, c.code, c.output, out.String())
			}
		})
	}
}

// TestOutputStreams checks that output reaches the host while the test
// runs (the test waits for a file that is created only once its "ready"
// line has arrived), in order across stdout and stderr, and that 1 MiB of
// output arrives intact; the test's os.Stat goes through the file shim.
// With -worker, the output is posted from the Worker, and TestInWorker
// runs too, to prove where.
func TestOutputStreams(t *testing.T) {
	for _, mode := range []struct {
		name  string
		run   func(*testing.T, engine.Name, *syncBuffer, ...string) int
		tests string
	}{
		{"page", runTest, "^TestStream$"},
		{"worker", runWorkerTest, "^(TestStream|TestInWorker)$"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			seen := filepath.Join(t.TempDir(), "seen")
			t.Setenv("DUALWS_WB_SEEN", seen)
			var once sync.Once
			out := &syncBuffer{onWrite: func(all string) {
				if strings.Contains(all, "ready\n") {
					once.Do(func() { os.WriteFile(seen, nil, 0o644) })
				}
			}}
			code := mode.run(t, engine.Chromium, out, "-test.run="+mode.tests, "-test.v")
			got := out.String()
			if code != 0 {
				t.Fatalf("exit %d:\n%.2000s", code, got)
			}
			want := "out 1\nerr 1\nready\n" + strings.Repeat("x", 1<<20) + "\nerr end\n"
			if !strings.Contains(got, want) {
				t.Fatalf("output does not hold the test's lines in order:\n%.2000s", got)
			}
		})
	}
}

// TestCoverProfile runs the runner as go test -exec with -coverprofile and
// checks the profile that comes back to the host, from the page and, with
// -worker, from a Worker.
func TestCoverProfile(t *testing.T) {
	for _, mode := range []string{"page", "worker"} {
		t.Run(mode, func(t *testing.T) {
			exe := runnerBin
			run := "^TestCover$"
			if mode == "worker" {
				exe += " -worker"
				run = "^(TestCover|TestInWorker)$" // and proof that it ran in a Worker
			}
			profile := filepath.Join(t.TempDir(), "cover.out")
			cmd := exec.Command("go", "test", "-count=1", "-run="+run, "-coverprofile="+profile, "-exec="+exe, "./testdata/wasmtest")
			cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "WASMBROWSER=chromium")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("go test: %v\n%s", err, out)
			}
			b, err := os.ReadFile(profile)
			if err != nil {
				t.Fatal(err)
			}
			// Double (line 6) ran, Unused (line 9) did not.
			p := string(b)
			if !strings.Contains(p, "wasmtest.go:6.24,6.40 1 1\n") || !strings.Contains(p, "wasmtest.go:9.24,9.40 1 0\n") {
				t.Fatalf("profile:\n%s", p)
			}
		})
	}
}

func TestEnvironmentIsFiltered(t *testing.T) {
	env, err := testEnv([]string{"GOFLAGS=-x", "DUALWS_SERVER=ws://a", "HOME=/root", "PATH=/bin", "MY_A=1", "MY_B=2", "OTHER=3"}, "MY_*, HOME")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"GOFLAGS", "DUALWS_SERVER", "HOME", "MY_A", "MY_B", "TMPDIR"} {
		if _, ok := env[k]; !ok {
			t.Errorf("%s not passed", k)
		}
	}
	for _, k := range []string{"PATH", "OTHER"} {
		if _, ok := env[k]; ok {
			t.Errorf("%s passed", k)
		}
	}
	if _, err := testEnv(nil, "A*B"); err == nil {
		t.Error("a '*' inside a name was accepted")
	}
}

func TestOversizedEnvironmentIsRefusedByName(t *testing.T) {
	env := map[string]string{"DUALWS_SMALL": "x", "DUALWS_BIG": strings.Repeat("y", 9000)}
	err := checkArgSize([]string{"/tmp/x.test", "-test.v"}, env)
	if err == nil || !strings.Contains(err.Error(), "DUALWS_BIG") {
		t.Fatalf("got %v, want an error naming DUALWS_BIG", err)
	}
	delete(env, "DUALWS_BIG")
	if err := checkArgSize([]string{"/tmp/x.test"}, env); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserCrashBeforeTheTest launches, as Chromium, a script that dies
// of SIGSEGV the first crashes times and then runs Chromium: a browser
// that dies before the test starts is launched again, at most
// maxRelaunches times, and the test's own exit status is kept.
func TestBrowserCrashBeforeTheTest(t *testing.T) {
	for _, c := range []struct {
		crashes int
		code    int
		output  string
	}{
		{1, 0, "launching it again (1 of 2)"},
		{maxRelaunches, 1, "failing on purpose"},
		{maxRelaunches + 1, 1, "exited before the test did"},
	} {
		t.Run(fmt.Sprint(c.crashes), func(t *testing.T) {
			script, err := testrun.CrashingChromium(t.TempDir(), c.crashes)
			if err != nil {
				t.Fatal(err)
			}
			t.Setenv("CHROMIUM", script)
			run := "^TestPass$"
			if c.crashes == maxRelaunches {
				run = "^TestFail$" // the test's own failure comes back, not the launches'
			}
			var out syncBuffer
			code := runTest(t, engine.Chromium, &out, "-test.run="+run)
			if code != c.code || !strings.Contains(out.String(), c.output) {
				t.Fatalf("exit %d, want %d, with %q in the output:\n%s", code, c.code, c.output, out.String())
			}
		})
	}
}
