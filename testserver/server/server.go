package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/dualws/dualws/internal/wsframe"
)

// ContentSecurityPolicy is the policy sent with every file of
// Options.StaticDir: scripts only from the server's own origin, and
// WebAssembly compilation, but no eval, no Function constructor and no
// inline scripts. Pages served from StaticDir must load their scripts from
// files; the browser driver of dualws must work under it.
const ContentSecurityPolicy = "script-src 'self' 'wasm-unsafe-eval'"

// Options configures a Server.
type Options struct {
	// StaticDir, if set, is served at / (index.html at /), with
	// Content-Security-Policy: ContentSecurityPolicy and no caching.
	StaticDir string
	// WasmExecDir is the directory holding wasm_exec.js, served at
	// /wasm_exec.js. The default is $(go env GOROOT)/lib/wasm of the Go
	// that runs the server.
	WasmExecDir string
	// Logf, if set, receives at most one line per connection.
	Logf func(format string, args ...any)
}

// Observation is what the server saw a client do on the connections that
// carried one id.
type Observation struct {
	// CloseReceived reports whether the client sent a close frame.
	CloseReceived bool
	// CloseCode is the code of the client's close frame (1005 when the
	// frame had no code), 0 when none was received.
	CloseCode int
	// CloseReason is the reason of the client's close frame.
	CloseReason string
	// Pongs counts the pong frames received from the client.
	Pongs int
	// Messages counts the data messages received from the client.
	Messages int
	// OpenedAt is when /ws/seed was about to write its handshake
	// response, in Unix nanoseconds (0 elsewhere).
	OpenedAt int64 `json:",omitempty"`
	// EndedAt is when /ws/seed wrote its close frame or closed TCP, in
	// Unix nanoseconds, taken right after the write or close returned
	// (0 elsewhere, and until then).
	EndedAt int64 `json:",omitempty"`
	// Ended is how /ws/seed ended the connection: "close" or "drop".
	Ended string `json:",omitempty"`
}

// Server is the scenario server. It is an http.Handler; create it with New
// and end its scenarios with Close.
type Server struct {
	opts   Options
	mux    *http.ServeMux
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	active   sync.WaitGroup
	observed map[string]*Observation

	wasmExecOnce sync.Once
	wasmExecPath string
	wasmExecErr  error
}

// New returns a Server configured by opts.
func New(opts Options) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		opts:     opts,
		mux:      http.NewServeMux(),
		ctx:      ctx,
		cancel:   cancel,
		observed: make(map[string]*Observation),
	}
	s.routes()
	return s
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /observed", s.handleObserved)
	s.mux.HandleFunc("GET /wasm_exec.js", s.handleWasmExec)
	s.mux.HandleFunc("/ws/echo", s.scenario(s.wsEcho))
	s.mux.HandleFunc("/ws/close", s.scenario(s.wsClose))
	s.mux.HandleFunc("/ws/burst", s.scenario(s.wsBurst))
	s.mux.HandleFunc("/ws/drop", s.scenario(s.wsDrop))
	s.mux.HandleFunc("/ws/reject", s.scenario(s.wsReject))
	s.mux.HandleFunc("/ws/stall", s.scenario(s.wsStall))
	s.mux.HandleFunc("/ws/big", s.scenario(s.wsBig))
	s.mux.HandleFunc("/ws/subprotocol", s.scenario(s.wsSubprotocol))
	s.mux.HandleFunc("/ws/ping", s.scenario(s.wsPing))
	s.mux.HandleFunc("/ws/dropfragment", s.scenario(s.wsDropFragment))
	s.mux.HandleFunc("/ws/noclose", s.scenario(s.wsNoClose))
	s.mux.HandleFunc("/ws/badutf8", s.scenario(s.wsBadUTF8))
	s.mux.HandleFunc("/ws/pongclose", s.scenario(s.wsPongClose))
	s.mux.HandleFunc("/ws/seed", s.scenario(s.wsSeed))
	s.redialRoutes()
	if s.opts.StaticDir != "" {
		s.mux.Handle("/", strictCSP(noStore(http.FileServer(http.Dir(s.opts.StaticDir)))))
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Observed returns what the server has recorded for id so far.
func (s *Server) Observed(id string) Observation {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.observed[id]; ok {
		return *o
	}
	return Observation{}
}

// Close ends every scenario still running (their connections are closed)
// and waits for them to return. Requests arriving later are refused with
// 503 Service Unavailable.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.active.Wait()
}

// scenario wraps a scenario handler so that Close can end and wait for it.
func (s *Server) scenario(h func(w http.ResponseWriter, r *http.Request, id string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			http.Error(w, "scenario server closed", http.StatusServiceUnavailable)
			return
		}
		s.active.Add(1)
		s.mu.Unlock()
		defer s.active.Done()
		h(w, r, r.URL.Query().Get("id"))
	}
}

func (s *Server) record(id string, f func(o *Observation)) {
	if id == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.observed[id]
	if !ok {
		o = &Observation{}
		s.observed[id] = o
	}
	f(o)
}

// recordFrame records one complete frame the client sent: a data frame
// with FIN ends a message; control carries a control frame's payload.
func (s *Server) recordFrame(id string, fin bool, opcode byte, control []byte) {
	switch opcode {
	case wsframe.OpText, wsframe.OpBinary, wsframe.OpContinuation:
		if fin {
			s.recordMessage(id)
		}
	case wsframe.OpPong:
		s.recordPong(id)
	case wsframe.OpClose:
		if code, reason, err := parseClosePayload(control); err == nil {
			s.recordClose(id, code, reason)
		}
	}
}

func (s *Server) recordMessage(id string) {
	s.record(id, func(o *Observation) { o.Messages++ })
}

func (s *Server) recordPong(id string) {
	s.record(id, func(o *Observation) { o.Pongs++ })
}

func (s *Server) recordClose(id string, code int, reason string) {
	s.record(id, func(o *Observation) {
		o.CloseReceived = true
		o.CloseCode = code
		o.CloseReason = reason
	})
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

func allowAnyOrigin(w http.ResponseWriter) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
}

func noStore(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// strictCSP sends ContentSecurityPolicy with every response of h.
func strictCSP(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", ContentSecurityPolicy)
		h.ServeHTTP(w, r)
	})
}

func (s *Server) handleObserved(w http.ResponseWriter, r *http.Request) {
	allowAnyOrigin(w)
	id := r.URL.Query().Get("id")
	if id == "" {
		http.Error(w, "observed: missing id parameter", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := json.NewEncoder(w).Encode(s.Observed(id)); err != nil {
		s.logf("observed id=%s: writing response: %v", id, err)
	}
}

func (s *Server) handleWasmExec(w http.ResponseWriter, r *http.Request) {
	allowAnyOrigin(w)
	path, err := s.wasmExec()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.ServeFile(w, r, path)
}

// wasmExec finds wasm_exec.js: in Options.WasmExecDir if set, else in the
// GOROOT of the running Go (runtime.GOROOT, then `go env GOROOT`).
func (s *Server) wasmExec() (string, error) {
	s.wasmExecOnce.Do(func() {
		s.wasmExecPath, s.wasmExecErr = findWasmExec(s.opts.WasmExecDir)
	})
	return s.wasmExecPath, s.wasmExecErr
}

func findWasmExec(dir string) (string, error) {
	if dir != "" {
		p := filepath.Join(dir, "wasm_exec.js")
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("locating wasm_exec.js in WasmExecDir: %w", err)
		}
		return p, nil
	}
	if root := runtime.GOROOT(); root != "" { //nolint:staticcheck // the glue file must come from this Go
		p := filepath.Join(root, "lib", "wasm", "wasm_exec.js")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return "", fmt.Errorf("locating wasm_exec.js: go env GOROOT: %w", err)
	}
	p := filepath.Join(strings.TrimSpace(string(out)), "lib", "wasm", "wasm_exec.js")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("locating wasm_exec.js: %w", err)
	}
	return p, nil
}
