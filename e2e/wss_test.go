package e2e

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dualws/dualws/internal/browser"
	"github.com/dualws/dualws/testserver/server"

	"github.com/dualws/dualws/internal/testca"
)

// testCAName is the common name of the CA that TestHarnessWSS makes.
const testCAName = "dualws e2e test CA"

// newTestCert returns a certificate for 127.0.0.1, issued by a certificate
// authority made for this test alone and trusted by no browser.
func newTestCert(t *testing.T) tls.Certificate {
	t.Helper()
	ca, err := testca.New(testCAName)
	if err != nil {
		t.Fatal(err)
	}
	return ca.Server
}

// TestHarnessWSS serves the harness and the scenarios over TLS with a
// certificate of a test CA. A Chromium started with
// --ignore-certificate-errors (in this test only) loads the harness over
// https and runs "echo" over wss://: it must give the native trace and a
// clean close. The browser of the other tests, which does not trust the
// CA, must fail that Dial.
func TestHarnessWSS(t *testing.T) {
	srv := server.New(server.Options{StaticDir: env.dir})
	var wsOverTLS atomic.Int64
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && strings.HasPrefix(r.URL.Path, "/ws/") {
			wsOverTLS.Add(1)
		}
		srv.ServeHTTP(w, r)
	}))
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{newTestCert(t)}}
	// The untrusting browser's failed handshake would be logged.
	hs.Config.ErrorLog = log.New(io.Discard, "", 0)
	hs.StartTLS()
	t.Cleanup(hs.Close)
	t.Cleanup(srv.Close) // first: ends the scenarios, so that hs.Close need not wait
	wssBase := "wss://" + hs.Listener.Addr().String()

	t.Run("untrusted", func(t *testing.T) {
		p := openPage(t, env.bctx, env.PageURL, `window.dualwsReady === true`)
		br := p.runScenario("echo", wssBase)
		if len(br.Ops) != 1 || br.Ops[0].Op != "dial" || br.Ops[0].Result != "dial" {
			t.Errorf("without trusting the test CA, ops %+v, want one failed dial", br.Ops)
		}
		if wsOverTLS.Load() != 0 {
			t.Errorf("%d WebSocket requests reached the server through an untrusted certificate", wsOverTLS.Load())
		}
	})

	t.Run("trusted", func(t *testing.T) {
		bctx, stop, err := browser.StartWith(context.Background(), browser.Options{
			Flags: map[string]any{"ignore-certificate-errors": true},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		p := openPage(t, bctx, hs.URL+"/harness/", `window.dualwsReady === true`)
		if sd := p.resp.SecurityDetails; sd == nil || sd.Issuer != testCAName {
			t.Fatalf("the harness page's TLS details %+v, want a certificate issued by %q", sd, testCAName)
		}
		if got := p.eval("location.protocol"); got != "https:" {
			t.Fatalf("harness loaded over %s, want https:", got)
		}
		checkEcho(t, p.runScenario("echo", wssBase))
		if wsOverTLS.Load() == 0 {
			t.Errorf("no WebSocket request reached the server over TLS")
		}
	})
}
