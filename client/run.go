package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
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
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ", ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// parseArgs parses the command line. It returns flag.ErrHelp after
// printing the help for -h, and otherwise an error of one line.
func parseArgs(args []string, stderr io.Writer) (*config, error) {
	cfg := &config{}
	var subprotocols, headers listFlag
	fs := flag.NewFlagSet("dualws", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(&subprotocols, "subprotocol", "offer this subprotocol (repeatable, in order of preference)")
	fs.Var(&headers, "header", "send this HTTP header with the handshake, as 'Key: value' (repeatable)")
	fs.BoolVar(&cfg.binary, "binary", false, "send each input line as a binary message instead of text")
	fs.BoolVar(&cfg.binaryRaw, "binary-raw", false, "write received binary messages to standard output as raw bytes instead of a hex preview")
	fs.DurationVar(&cfg.ping, "ping", 0, "keepalive ping interval (0: the library default, 20s; negative: no pings)")
	fs.DurationVar(&cfg.pingTimeout, "ping-timeout", 0, "how long a ping waits for its pong before the connection is dropped (0: 20s)")
	fs.DurationVar(&cfg.closeTimeout, "close-timeout", 0, "how long closing waits for the server's close frame (0: 5s)")
	fs.Int64Var(&cfg.readLimit, "read-limit", 0, "largest message accepted in bytes; a larger one closes with 1009 (0: 1 MiB; negative: no limit)")
	fs.DurationVar(&cfg.linger, "linger", 0, "after end of input, wait this long for replies (or for the server to close) before closing with 1000")
	fs.BoolVar(&cfg.json, "json", false, "write every event as one JSON object per line on standard output")
	fs.BoolVar(&cfg.quiet, "q", false, "quiet: do not print state changes and notices on standard error (errors still are)")
	// The flag package calls Usage on every parse error; the help is only
	// printed for -h, and errors stay on one line.
	fs.Usage = func() {}
	help := func() {
		fmt.Fprintln(stderr, usageLine)
		fmt.Fprintln(stderr, "\nSends each line of standard input as a message and prints what arrives.")
		fmt.Fprintln(stderr, "End of input closes with 1000; Ctrl-C closes with 1000, a second Ctrl-C drops the connection.")
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

	opts := &dualws.Options{
		Subprotocols:  cfg.subprotocols,
		Header:        cfg.header,
		CloseTimeout:  cfg.closeTimeout,
		ReadLimit:     cfg.readLimit,
		PingInterval:  cfg.ping,
		PingTimeout:   cfg.pingTimeout,
		OnStateChange: out.state,
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
	if p := c.Subprotocol(); p != "" {
		out.subprotocol(p)
	}

	// Input: each line is a message; end of input closes with 1000.
	go sendInput(c, stdin, cfg.binary, cfg.linger, out)
	// An interrupt closes with 1000.
	go func() {
		select {
		case <-interrupted:
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

	for _, ch := range []<-chan struct{}{recvDone, c.Done()} {
		select {
		case <-ch:
		case <-drop:
			out.release()
			return out.exit(exitDropped)
		}
	}
	st, _ := c.CloseStatus()
	return out.exit(exitStatus(st))
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

// sendInput sends each line of r, without its line ending, as one message,
// and closes the connection with 1000 at the end of r, after waiting
// linger for replies. It stops when the connection is closing.
func sendInput(c *dualws.Client, r io.Reader, binary bool, linger time.Duration, out *printer) {
	typ := dualws.Text
	if binary {
		typ = dualws.Binary
	}
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		line, rerr := br.ReadBytes('\n')
		if len(line) > 0 {
			line = bytes.TrimSuffix(line, []byte("\n"))
			line = bytes.TrimSuffix(line, []byte("\r"))
			err := c.Send(context.Background(), typ, line)
			var ue *dualws.UsageError
			switch {
			case errors.As(err, &ue):
				out.error("send", fmt.Errorf("input line %d not sent: %w", n, err))
			case err != nil:
				out.error("send", fmt.Errorf("input line %d not sent: %w", n, err))
				return
			default:
				out.sent(typ, len(line))
			}
		}
		if rerr == io.EOF {
			if linger > 0 && c.State() == dualws.Open {
				out.notice("end of input: waiting " + linger.String() + " for replies before closing")
				t := time.NewTimer(linger)
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
			return
		}
		if rerr != nil {
			out.error("input", fmt.Errorf("reading standard input: %w", rerr))
			closeConn(c)
			return
		}
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
