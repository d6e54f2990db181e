package e2e

import (
	"testing"

	"github.com/dualws/dualws/testserver/server"
)

// TestHarnessStrictCSP loads the harness, served with the scenario
// server's strict policy (script-src 'self' 'wasm-unsafe-eval'), checks
// that the policy is in force (the header came with the page, eval and the
// Function constructor throw), then runs "echo" in that page: Dial, Send
// and Receive of text and binary messages, Close(1000). A driver that
// compiled JavaScript at run time would fail to Dial here.
func TestHarnessStrictCSP(t *testing.T) {
	const want = "script-src 'self' 'wasm-unsafe-eval'"
	if server.ContentSecurityPolicy != want {
		t.Fatalf("server.ContentSecurityPolicy = %q, want %q", server.ContentSecurityPolicy, want)
	}
	p := openPage(t, env.bctx, env.PageURL, `window.dualwsReady === true`)
	if got := p.header("Content-Security-Policy"); got != want {
		t.Fatalf("the harness came with Content-Security-Policy %q, want %q", got, want)
	}
	if got := p.eval(evalProbeJS); got != "blocked" {
		t.Fatalf("eval in the harness page: %s, want blocked by the policy", got)
	}
	if got := p.eval(functionProbeJS); got != "blocked" {
		t.Fatalf("new Function in the harness page: %s, want blocked by the policy", got)
	}
	checkEcho(t, p.runScenario("echo", env.BaseURL))
}
