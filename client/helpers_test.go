package main

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dualws/dualws/internal/testrun"
	"github.com/dualws/dualws/testserver/server"
)

// guard bounds every wait in these tests; it is a safety net against
// hangs, never a measure of speed.
const guard = 20 * time.Second

// binPath is the command built by TestMain for the end-to-end tests.
var (
	binPath  string
	buildErr error
)

func TestMain(m *testing.M) {
	testrun.Main(m, "dualws-cli-test", func(dir string) {
		binPath = filepath.Join(dir, "dualws")
		buildErr = testrun.GoBuild(binPath, ".")
	})
}

// syncBuffer is an io.Writer that tests can read while it is written,
// and wait on for some content.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{})} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	close(b.changed)
	b.changed = make(chan struct{})
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits until the buffer contains s.
func (b *syncBuffer) waitFor(t *testing.T, what, s string) {
	t.Helper()
	timer := time.NewTimer(guard)
	defer timer.Stop()
	for {
		b.mu.Lock()
		has, changed := strings.Contains(b.buf.String(), s), b.changed
		b.mu.Unlock()
		if has {
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("%s never contained %q; it has:\n%s", what, s, b.String())
		}
	}
}

// scenario is an in-process scenario server.
type scenario struct {
	srv  *server.Server
	ws   string // ws://host
	logs *syncBuffer
}

func newScenario(t *testing.T) *scenario {
	t.Helper()
	logs := newSyncBuffer()
	srv := server.New(server.Options{Logf: func(format string, args ...any) {
		fmt.Fprintf(logs, format+"\n", args...)
	}})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	t.Cleanup(srv.Close) // runs first: ends the scenarios, then the server
	return &scenario{srv: srv, ws: "ws://" + hs.Listener.Addr().String(), logs: logs}
}

// observed waits until the connection with id has finished on the server
// and returns what the server saw.
func (s *scenario) observed(t *testing.T, id string) server.Observation {
	t.Helper()
	s.logs.waitFor(t, "the server log", fmt.Sprintf("id=%q ", id))
	return s.srv.Observed(id)
}

// lines splits output into lines, without the last empty one.
func lines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// lineWith returns the first line of s that contains every part.
func lineWith(s string, parts ...string) (string, bool) {
next:
	for _, l := range lines(s) {
		for _, p := range parts {
			if !strings.Contains(l, p) {
				continue next
			}
		}
		return l, true
	}
	return "", false
}

// requireLine fails unless some line of out contains every part.
func requireLine(t *testing.T, what, out string, parts ...string) string {
	t.Helper()
	l, ok := lineWith(out, parts...)
	if !ok {
		t.Fatalf("%s has no line with %q:\n%s", what, parts, out)
	}
	return l
}
