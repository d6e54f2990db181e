//go:build !js

// These tests start browsers, so they run on the host only.

package engine

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestParse(t *testing.T) {
	for in, want := range map[string]Name{"chromium": Chromium, "Chrome": Chromium, "firefox": Firefox, "firefox-esr": Firefox, " webkit ": WebKit, "safari": WebKit} {
		if got, err := Parse(in); got != want || err != nil {
			t.Errorf("Parse(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := Parse("edge"); err == nil {
		t.Error("Parse(edge) gave no error")
	}
	got, err := ParseList("webkit,chromium,webkit")
	if err != nil || len(got) != 2 || got[0] != WebKit || got[1] != Chromium {
		t.Errorf("ParseList = %v, %v", got, err)
	}
	if got, _ := ParseList(""); len(got) != 3 {
		t.Errorf("ParseList(\"\") = %v, want all three", got)
	}
}

// TestSettle: only Firefox is waited for after its page loads.
func TestSettle(t *testing.T) {
	for _, n := range All {
		if got, want := Settle(n) > 0, n == Firefox; got != want {
			t.Errorf("Settle(%s) = %v", n, Settle(n))
		}
	}
}

func TestCheckNamesThePackage(t *testing.T) {
	t.Setenv("FIREFOX", "/nonexistent/firefox")
	err := Check(Firefox)
	if err == nil || !contains(err.Error(), "firefox-esr") {
		t.Fatalf("Check with a missing firefox: %v, want an error naming the firefox-esr package", err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestLaunchLoadsThePageAndStopLeavesNothing opens a page in each engine
// that reports back to the test's server, then stops the browser and
// checks that none of its processes run and its directory is gone. The
// Makefile installs the engines, so a missing one fails.
func TestLaunchLoadsThePageAndStopLeavesNothing(t *testing.T) {
	for _, n := range All {
		t.Run(string(n), func(t *testing.T) {
			if err := Check(n); err != nil {
				t.Fatal(err)
			}
			loaded := make(chan string, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/loaded" {
					select {
					case loaded <- r.UserAgent():
					default:
					}
					return
				}
				w.Header().Set("Content-Type", "text/html")
				w.Write([]byte(`<!doctype html><script>fetch("/loaded", {method: "POST"})</script>`))
			}))
			defer srv.Close()
			l, err := launch(context.Background(), n, srv.URL+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			select {
			case ua := <-loaded:
				t.Logf("%s loaded the page: %s", n, ua)
			case <-time.After(60 * time.Second):
				l.stop()
				t.Fatalf("%s did not load the page within 60s", n)
			}
			var pids []int
			for _, p := range l.procs {
				pids = append(pids, p.cmd.Process.Pid)
				pids = append(pids, descendants(p.cmd.Process.Pid)...)
			}
			if len(pids) < 2 {
				t.Fatalf("%s runs as %d process(es): expected a browser with helpers", n, len(pids))
			}
			l.stop()
			l.stop() // a second stop is harmless
			if left := alive(pids); len(left) > 0 {
				t.Errorf("%s: processes %v still run after stop", n, left)
			}
			if _, err := os.Stat(l.dir); !os.IsNotExist(err) {
				t.Errorf("%s: profile directory %s still there after stop (%v)", n, l.dir, err)
			}
		})
	}
}

// TestEnvAndStarted launches a stand-in "browser" (a shell script named by
// $FIREFOX) that writes its pid and one variable of its environment to a
// file: the variable must be Options.Env's value and the pid the one
// Options.Started was given.
func TestEnvAndStarted(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	script := filepath.Join(dir, "fakefox")
	body := "#!/bin/sh\necho \"$$ $ENGINE_TEST_VAR\" > " + out + ".tmp && mv " + out + ".tmp " + out + "\nexec sleep 30\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FIREFOX", script)
	var started int
	l, err := launch(context.Background(), Firefox, "http://127.0.0.1:1/", &Options{
		Env:     []string{"ENGINE_TEST_VAR=from-options"},
		Started: func(pid int) { started = pid },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.stop()
	var b []byte
	for i := 0; i < 500; i++ {
		if b, err = os.ReadFile(out); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("the stand-in browser wrote nothing: %v", err)
	}
	want := fmt.Sprintf("%d from-options", started)
	if got := strings.TrimSpace(string(b)); started == 0 || got != want {
		t.Errorf("the browser wrote %q; want %q (Started gave pid %d)", got, want, started)
	}
}
