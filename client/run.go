package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dualws/dualws"
)

// Exit statuses.
const (
	exitClean   = 0 // closed cleanly with 1000 or 1001
	exitCode    = 1 // closed with any other code
	exitUsage   = 2 // bad flags, URL or arguments
	exitDial    = 3 // the connection could not be opened
	exitDropped = 4 // the connection ended with 1006
)

const usageLine = "usage: dualws [flags] ws://host/path (dualws -h lists the flags)"

// config is the parsed command line.
type config struct {
	url          string
	subprotocols []string
	header       map[string][]string
	binary       bool
	binaryRaw    bool
	ping         time.Duration
	pingTimeout  time.Duration
	closeTimeout time.Duration
	readLimit    int64
	linger       time.Duration
	json         bool
	quiet        bool
	reconnect    bool
	backoff      dualws.Backoff
	cacert       string
	insecure     bool
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ", ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// newFlagSet defines the command's flags, stored into cfg, subprotocols
// and headers.
func newFlagSet(cfg *config, subprotocols, headers *listFlag) *flag.FlagSet {
	fs := flag.NewFlagSet("dualws", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(subprotocols, "subprotocol", "offer this subprotocol (repeatable, in order of preference)")
	fs.Var(headers, "header", "send this HTTP header with the handshake, as 'Key: value' (repeatable)")
	fs.BoolVar(&cfg.binary, "binary", false, "send each input line as a binary message instead of text")
	fs.BoolVar(&cfg.binaryRaw, "binary-raw", false, "write received binary messages to standard output as raw bytes instead of a hex preview")
	fs.DurationVar(&cfg.ping, "ping", 0, "keepalive ping interval (0: the library default, 20s; negative: no pings)")
	fs.DurationVar(&cfg.pingTimeout, "ping-timeout", 0, "how long a ping waits for its pong before the connection is dropped (0: 20s)")
	fs.DurationVar(&cfg.closeTimeout, "close-timeout", 0, "how long closing waits for the server's close frame (0: 5s)")
	fs.Int64Var(&cfg.readLimit, "read-limit", 0, "largest message accepted in bytes; a larger one closes with 1009 (0: 1 MiB; negative: no limit)")
	fs.DurationVar(&cfg.linger, "linger", 0, "after end of input, wait this long for replies (or for the server to close) before closing with 1000")
	fs.BoolVar(&cfg.json, "json", false, "write every event as one JSON object per line on standard output")
	fs.BoolVar(&cfg.quiet, "q", false, "quiet: do not print state changes and notices on standard error (errors still are)")
	fs.BoolVar(&cfg.reconnect, "reconnect", false, "reconnect with backoff when the connection fails or drops (dualws.Redial); a line refused by a closing connection goes to the next; Ctrl-C stops, and the end of input once every line went to a connection")
	fs.DurationVar(&cfg.backoff.Initial, "backoff-initial", 0, "with -reconnect, the first delay is random in [0, this] (0: 1s)")
	fs.DurationVar(&cfg.backoff.Min, "backoff-min", 0, "with -reconnect, the second delay; later ones grow by 1.618 (0: 1s)")
	fs.DurationVar(&cfg.backoff.Max, "backoff-max", 0, "with -reconnect, the longest delay (0: 30s)")
	fs.StringVar(&cfg.cacert, "cacert", "", "trust the CA certificates in this PEM file for wss:// (instead of the system's)")
	fs.BoolVar(&cfg.insecure, "insecure", false, "wss:// without verifying the server's certificate (testing only)")
	return fs
}

// parseArgs parses the command line. It returns flag.ErrHelp after
// printing the help for -h, and otherwise an error of one line.
func parseArgs(args []string, stderr io.Writer) (*config, error) {
	cfg := &config{}
	var subprotocols, headers listFlag
	fs := newFlagSet(cfg, &subprotocols, &headers)
	// The flag package calls Usage on every parse error; the help is only
	// printed for -h, and errors stay on one line.
	fs.Usage = func() {}
	help := func() {
		fmt.Fprintln(stderr, usageLine)
		fmt.Fprintln(stderr, "\nSends each line of standard input as a message and prints what arrives.")
		fmt.Fprintln(stderr, "End of input closes with 1000; Ctrl-C closes with 1000, a second Ctrl-C drops the connection (1006).")
		fmt.Fprintln(stderr, "Exit status: 0 clean close with 1000/1001, 1 other close code, 2 usage error, 3 dial failure, 4 connection dropped (1006).")
		fmt.Fprintln(stderr, "\nFlags:")
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}

	// Flags may come before or after the URL.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				help()
			}
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	switch len(positional) {
	case 0:
		return nil, errors.New("missing URL")
	case 1:
		cfg.url = positional[0]
	default:
		return nil, fmt.Errorf("expected one URL, got %d arguments: %s", len(positional), strings.Join(positional, " "))
	}
	cfg.subprotocols = subprotocols
	for _, h := range headers {
		k, v, ok := strings.Cut(h, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t\r\n") || strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("invalid -header %q: use 'Key: value'", h)
		}
		if cfg.header == nil {
			cfg.header = make(map[string][]string)
		}
		cfg.header[k] = append(cfg.header[k], strings.TrimSpace(v))
	}
	return cfg, nil
}

// run is the command: it parses args, connects, copies standard input to
// the connection and the connection to standard output, and returns the
// exit status. It does not watch for signals; see runSignals.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runSignals(args, stdin, stdout, stderr, nil)
}

// asksJSON reports whether args, which did not parse, set -json among the
// flags before the first argument that is not one.
func asksJSON(args []string) bool {
	var subprotocols, headers listFlag
	fs := newFlagSet(&config{}, &subprotocols, &headers)
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") {
			return false
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "json" {
			return !hasValue || strings.HasSuffix(a, "=true")
		}
		if !hasValue && !isBoolFlag(fs.Lookup(name)) {
			i++ // the flag's value (an unknown flag's next argument is taken as one too)
		}
	}
	return false
}

// isBoolFlag reports whether f is a flag that takes no value (nil: no).
func isBoolFlag(f *flag.Flag) bool {
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// runSignals is run with interrupts: the first value on sigs closes the
// connection with 1000, the second drops it at once.
func runSignals(args []string, stdin io.Reader, stdout, stderr io.Writer, sigs <-chan os.Signal) int {
	start := time.Now()
	cfg, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitClean
	}
	if err != nil {
		fmt.Fprintf(stderr, "dualws: %s (dualws -h shows the usage)\n", oneLine(err.Error()))
		if asksJSON(args) {
			// As for every other usage error: an "error" and a last "exit"
			// event on standard output (the message is on standard error
			// already).
			out := newPrinter(start, stdout, io.Discard, &config{json: true})
			out.error("usage", err)
			return out.exit(exitUsage)
		}
		return exitUsage
	}
	out := newPrinter(start, stdout, stderr, cfg)

	dialCtx, cancelDial := context.WithCancel(context.Background())
	defer cancelDial()
	// The signal watcher ends when run does.
	finished := make(chan struct{})
	defer close(finished)
	interrupted := make(chan struct{})
	drop := make(chan struct{})
	if sigs != nil {
		go func() {
			select {
			case <-sigs:
			case <-finished:
				return
			}
			out.notice("interrupt: closing with 1000 (interrupt again to drop the connection)")
			close(interrupted)
			cancelDial()
			select {
			case <-sigs:
			case <-finished:
				return
			}
			out.notice("second interrupt: dropping the connection")
			close(drop)
		}()
	}

	tlsCfg, err := tlsConfig(cfg.cacert, cfg.insecure)
	if err != nil {
		out.error("usage", err)
		return out.exit(exitUsage)
	}
	sock := &lastSocket{}
	opts := &dualws.Options{
		// The transport dualws uses when this is nil, dialing through sock.
		HTTPClient:    &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, DialContext: sock.dial}},
		Subprotocols:  cfg.subprotocols,
		Header:        cfg.header,
		CloseTimeout:  cfg.closeTimeout,
		ReadLimit:     cfg.readLimit,
		PingInterval:  cfg.ping,
		PingTimeout:   cfg.pingTimeout,
		OnStateChange: out.state,
	}
	if tlsCfg != nil {
		opts.TLSConfig = tlsCfg
	}
	in := readInput(stdin, finished)
	sess := &connSession{out: out, in: in, binary: cfg.binary, linger: cfg.linger, carry: cfg.reconnect, interrupted: interrupted, drop: drop, socket: sock}
	if cfg.reconnect {
		return sess.reconnect(dialCtx, cfg, opts)
	}

	c, err := dualws.Dial(dialCtx, cfg.url, opts)
	if err != nil {
		var ue *dualws.UsageError
		if errors.As(err, &ue) {
			out.error("usage", err)
			return out.exit(exitUsage)
		}
		out.error("dial", err)
		return out.exit(exitDial)
	}
	sess.run(c)
	st, _ := c.CloseStatus() // after a second interrupt too: a close both sides had finished stays clean
	return out.exit(exitStatus(st))
}

// connSession runs connections: standard input goes to the current one, what
// arrives goes to the printer.
type connSession struct {
	out         *printer
	in          *input
	binary      bool
	linger      time.Duration
	carry       bool            // keep a refused line for the next connection (-reconnect)
	interrupted <-chan struct{} // closed by the first interrupt
	drop        <-chan struct{} // closed by the second interrupt
	socket      *lastSocket     // under the current connection

	refused atomic.Pointer[refusedLine] // kept for the next connection; see sendInput
}

// refusedLine is an input line whose Send a closing connection refused.
type refusedLine struct {
	inputLine
	err error // Send's *dualws.CloseError
}

// lastSocket keeps the last connection dialed for the client, the one
// under the current WebSocket (Redial dials the next only once the
// previous client is CLOSED), so that a second interrupt can drop it:
// the client has no call that abandons a connection its Close waits on.
type lastSocket struct {
	mu   sync.Mutex
	conn net.Conn
}

// dial dials as dualws does by default and keeps the connection.
func (s *lastSocket) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err == nil {
		s.mu.Lock()
		s.conn = c
		s.mu.Unlock()
	}
	return c, err
}

// drop closes the last connection dialed: the client then reports it
// dropped, 1006, unless both close frames had already crossed (the close
// was clean; the client only stops waiting for the server's end of TCP).
func (s *lastSocket) drop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		s.conn.Close()
	}
}

// How a connection served by connSession.run ended.
const (
	endClosed  = iota // CLOSED, for any reason but the two below
	endInput          // the end of input closed it
	endDropped        // a second interrupt dropped it
)

// run serves c until it is CLOSED and everything it received is printed.
// A second interrupt drops c's socket (lastSocket.drop): the client then
// reports CLOSED at once (1006, unless the close handshake had ended),
// without waiting for the handshake or the server's end of TCP, and run
// returns once that is printed.
func (s *connSession) run(c *dualws.Client) int {
	out := s.out
	if p := c.Subprotocol(); p != "" {
		out.subprotocol(p)
	}

	// Input: each line is a message; end of input closes with 1000.
	inputEnded := make(chan bool, 1)
	go func() { inputEnded <- s.sendInput(c) }()
	// An interrupt closes with 1000.
	go func() {
		select {
		case <-s.interrupted:
			closeConn(c)
		case <-c.Done():
		}
	}()

	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		for {
			typ, data, err := c.Receive(context.Background())
			if err != nil {
				// Every message before the close has been printed.
				out.release()
				return
			}
			out.message(typ, data)
		}
	}()

	dropped := false
	for _, ch := range []<-chan struct{}{recvDone, c.Done()} {
		select {
		case <-ch:
			continue
		case <-s.drop:
		}
		if !dropped {
			dropped = true
			s.socket.drop()
		}
		<-ch
	}
	ended := <-inputEnded
	// Everything of c is printed. The next connection's CLOSING and CLOSED
	// are held from now on: Redial hands over a client whose reader runs
	// already, and may have reported them before the next run starts.
	out.hold()
	switch {
	case dropped:
		return endDropped
	case ended:
		return endInput
	}
	return endClosed
}

// reconnect is run with -reconnect: it ranges over dualws.Redial, serving
// each connection, until the end of input, an interrupt, or an outcome
// Redial does not retry. The exit status is that of the last outcome.
func (s *connSession) reconnect(ctx context.Context, cfg *config, opts *dualws.Options) int {
	out := s.out
	opts.Backoff = &cfg.backoff
	// The end of input ends a backoff delay, and the Dial after it: with
	// nothing left to send there is nothing to reconnect for. (Not the
	// first Dial: with no input at all the command connects and closes,
	// as without -reconnect.)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	retrying := false // between OnRedial and the next connection
	opts.OnRedial = func(attempt int, delay time.Duration, last error) {
		out.redial(attempt, delay, last)
		mu.Lock()
		retrying = true
		mu.Unlock()
		if s.drained() {
			cancel()
		}
	}
	go func() {
		select {
		case <-s.in.ended:
			mu.Lock()
			if retrying && s.drained() {
				cancel()
			}
			mu.Unlock()
		case <-ctx.Done():
		}
	}()
	status := exitDial
	for c, err := range dualws.Redial(ctx, cfg.url, opts) {
		mu.Lock()
		retrying = false
		mu.Unlock()
		if err != nil {
			var ue *dualws.UsageError
			if errors.As(err, &ue) {
				out.error("usage", err)
				return s.exit(exitUsage)
			}
			out.error("dial", err)
			status = exitDial
			if s.drained() {
				// Every line went to a connection and no more will come:
				// nothing is left to send. (A line read and not yet
				// taken, or refused by a closing connection, keeps the
				// loop dialing, to send it.)
				if s.in.err != nil {
					out.error("input", fmt.Errorf("reading standard input: %w", s.in.err))
				}
				return s.exit(status)
			}
			continue
		}
		end := s.run(c)
		st, _ := c.CloseStatus()
		status = exitStatus(st)
		if end == endDropped {
			return s.exit(status)
		}
		if end == endInput || s.drained() { // nothing to reconnect for
			break
		}
	}
	return s.exit(status)
}

// drained reports whether every input line went to a connection: the input
// has ended, every line was taken, and none is kept refused.
func (s *connSession) drained() bool {
	select {
	case <-s.in.ended:
		return s.refused.Load() == nil
	default:
		return false
	}
}

// exit reports a refused line that no connection took, and then the exit
// status.
func (s *connSession) exit(status int) int {
	if r := s.refused.Swap(nil); r != nil {
		s.out.error("send", fmt.Errorf("input line %d not sent: %w", r.n, r.err))
	}
	return s.out.exit(status)
}

// exitStatus maps the final close status to the exit status.
func exitStatus(st dualws.CloseStatus) int {
	switch {
	case st.Code == dualws.StatusAbnormalClosure:
		return exitDropped
	case st.WasClean && (st.Code == dualws.StatusNormalClosure || st.Code == dualws.StatusGoingAway):
		return exitClean
	}
	return exitCode
}

// input reads standard input line by line, for one connection after
// another.
type input struct {
	lines chan inputLine // closed at the end of input
	ended chan struct{}  // closed at the end of input, once every line was taken
	err   error          // why reading stopped, if not io.EOF; read after ended is closed
}

type inputLine struct {
	n    int // from 1
	data []byte
}

// readInput reads r in a goroutine, which ends at the end of r or, when
// nobody takes a line any more, once finished is closed.
func readInput(r io.Reader, finished <-chan struct{}) *input {
	in := &input{lines: make(chan inputLine), ended: make(chan struct{})}
	go func() {
		defer close(in.lines)
		defer close(in.ended)
		br := bufio.NewReader(r)
		for n := 1; ; n++ {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				line = bytes.TrimSuffix(line, []byte("\n"))
				line = bytes.TrimSuffix(line, []byte("\r"))
				select {
				case in.lines <- inputLine{n, line}:
				case <-finished:
					return
				}
			}
			if err != nil {
				if err != io.EOF {
					in.err = err
				}
				return
			}
		}
	}()
	return in
}

// sendInput sends each line of the input, without its line ending, as one
// message, and closes c with 1000 at the end of input, after waiting linger
// for replies. It stops when c is closing, and reports whether the end of
// input closed c.
//
// With -reconnect (carry), a line that Send refused with a
// *dualws.CloseError, which sent nothing of it, is kept in s.refused and
// sent first on the next connection, unless an interrupt is ending the
// command; if none takes it, exit reports it not sent. A line whose Send
// returned nil is not sent again: it may still be lost when the connection
// drops, but WebSocket has no acknowledgements to tell.
func (s *connSession) sendInput(c *dualws.Client) bool {
	in, out := s.in, s.out
	typ := dualws.Text
	if s.binary {
		typ = dualws.Binary
	}
	for {
		var (
			l  inputLine
			ok bool
		)
		if r := s.refused.Swap(nil); r != nil {
			l, ok = r.inputLine, true
		} else {
			select {
			case l, ok = <-in.lines:
			case <-c.Done():
				return false
			}
		}
		if !ok {
			break
		}
		err := out.send(typ, len(l.data), func() error { return c.Send(context.Background(), typ, l.data) })
		var (
			ue *dualws.UsageError
			ce *dualws.CloseError
		)
		switch {
		case err == nil:
		case errors.As(err, &ue):
			out.error("send", fmt.Errorf("input line %d not sent: %w", l.n, err))
		case errors.As(err, &ce) && s.carry && !isClosed(s.interrupted):
			s.refused.Store(&refusedLine{l, err})
			out.notice(fmt.Sprintf("input line %d not sent (%s): it goes first to the next connection", l.n, oneLine(err.Error())))
			return false
		default:
			out.error("send", fmt.Errorf("input line %d not sent: %w", l.n, err))
			return false
		}
	}
	if in.err != nil {
		out.error("input", fmt.Errorf("reading standard input: %w", in.err))
		closeConn(c)
		return true
	}
	if s.linger > 0 && c.State() == dualws.Open {
		out.notice("end of input: waiting " + s.linger.String() + " for replies before closing")
		t := time.NewTimer(s.linger)
		select {
		case <-t.C:
		case <-c.Done():
		}
		t.Stop()
	}
	if c.State() == dualws.Open {
		out.notice("end of input: closing with 1000")
	}
	closeConn(c)
	return true
}

// isClosed reports whether ch is closed.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// closeConn closes with 1000 and waits until the connection is closed. The
// outcome is reported by the state changes, so the error is not printed.
func closeConn(c *dualws.Client) {
	_ = c.Close(dualws.StatusNormalClosure, "")
}

// oneLine keeps error messages on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
