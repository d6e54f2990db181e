package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dualws/dualws/internal/testrun"
)

// probeReport mirrors dialprobe's Report.
type probeReport struct {
	Kind      string `json:"kind"`
	Error     string `json:"error"`
	Reason    string `json:"reason"`
	JSName    string `json:"js_name"`
	JSMessage string `json:"js_message"`
	Closed    string `json:"closed"`
}

// TestDialBrowserException dials from the dialprobe page in Chromium with
// arguments that pass dualws's own checks but make the WebSocket
// constructor throw. Dial must return a *DialError "refused by the
// browser" that wraps the browser's SyntaxError and quotes its message,
// not a claim about the URL of its own.
func TestDialBrowserException(t *testing.T) {
	dir := filepath.Join(env.dir, "dialprobe")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := testrun.GoBuild(filepath.Join(dir, "dialprobe.wasm"), "./dialprobe", "GOOS=js", "GOARCH=wasm"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"index.html", "dialprobe.js"} {
		b, err := os.ReadFile(filepath.Join("dialprobe", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := openPage(t, env.bctx, env.hs.URL+"/dialprobe/", `window.dualwsProbeReady === true`)
	dial := func(url string, protocols ...string) probeReport {
		t.Helper()
		args, err := json.Marshal([]any{url, append([]string{}, protocols...)})
		if err != nil {
			t.Fatal(err)
		}
		var r probeReport
		if err := json.Unmarshal([]byte(p.eval("dualwsProbeDial(..."+string(args)+")")), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}

	// The probe itself works: a good dial opens and closes cleanly.
	if r := dial(env.BaseURL + "/ws/echo"); r.Kind != "" || r.Closed != "1000 clean" {
		t.Fatalf("a valid dial: %+v, want no error and a clean close 1000", r)
	}

	for _, tc := range []struct {
		name, url string
		protocols []string
	}{
		{"subprotocol with a space", env.BaseURL + "/ws/echo", []string{"a b"}},
		{"subprotocol offered twice", env.BaseURL + "/ws/echo", []string{"v1", "v1"}},
		{"port out of range", "ws://127.0.0.1:99999/ws/echo", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := dial(tc.url, tc.protocols...)
			t.Logf("%s", r.Error)
			if r.Kind != "DialError" || r.Reason != "refused by the browser" {
				t.Fatalf("got %+v, want a *DialError with Reason \"refused by the browser\"", r)
			}
			if r.JSName != "SyntaxError" || r.JSMessage == "" {
				t.Errorf("wrapped exception %q %q, want the browser's SyntaxError", r.JSName, r.JSMessage)
			}
			if !strings.Contains(r.Error, r.JSMessage) || !strings.Contains(r.Error, "Failed to construct 'WebSocket'") {
				t.Errorf("error text %q does not quote the browser's exception %q", r.Error, r.JSMessage)
			}
			if strings.Contains(r.Error, "invalid URL") {
				t.Errorf("error text %q claims an invalid URL", r.Error)
			}
		})
	}

	// A fragment is refused by dualws itself, before any socket exists.
	if r := dial(env.BaseURL + "/ws/echo#frag"); r.Kind != "UsageError" || !strings.Contains(r.Error, "fragment") {
		t.Errorf("a URL with a fragment: %+v, want a *UsageError naming the fragment", r)
	}
}
