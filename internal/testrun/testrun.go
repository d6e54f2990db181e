// Package testrun holds what the test binaries that build programs do in
// TestMain: a scratch directory, the build, the run and a leak check.
package testrun

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// Main creates a temporary directory, calls setup with it, runs the tests,
// checks for leaked goroutines after a passing run, removes the directory
// and exits with the tests' status.
func Main(m *testing.M, name string, setup func(dir string)) {
	dir, err := os.MkdirTemp("", name)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	setup(dir)
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// GoBuild builds pkg to out with the go command on PATH; env is added to
// the environment (e.g. "GOOS=js", "GOARCH=wasm"). The error carries the
// compiler's output.
func GoBuild(out, pkg string, env ...string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("building %s: %w", pkg, err)
	}
	cmd := exec.Command(goTool, "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v go build %s: %w\n%s", env, pkg, err, b)
	}
	return nil
}

// CrashingChromium writes, in dir, a script to launch as Chromium (through
// $CHROMIUM) that dies of SIGSEGV on its first crashes launches and runs
// Chromium after: a browser that dies while starting up, as Chromium now
// and then does.
func CrashingChromium(dir string, crashes int) (string, error) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		chromium = "/usr/bin/chromium"
	}
	script := filepath.Join(dir, "chromium")
	body := fmt.Sprintf("#!/bin/sh\nn=$(cat %[1]s/count 2>/dev/null || echo 0)\necho $((n+1)) > %[1]s/count\nif [ \"$n\" -lt %[2]d ]; then kill -SEGV $$; fi\nexec %[3]s \"$@\"\n", dir, crashes, chromium)
	return script, os.WriteFile(script, []byte(body), 0o755)
}
