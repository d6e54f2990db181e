//go:build linux

// Command arrival checks, on loopback, the native dualws promise that a
// Send fails once the peer's close frame has reached the client's
// machine, under the traffic shapes that broke it before.
//
// A server (coder/websocket, or frames written by hand; some paced with
// SO_MAX_PACING_RATE) sends a shape of data then its close frame, through
// a relay. Both run in a child process, this binary re-executed (`arrival
// serve`), so that the client's Go scheduler cannot delay them. The relay
// reads the server as fast as it sends, into memory, so the moment it
// reads the close's first byte is the moment the close left the server's
// kernel and arrived at the client's machine; it writes to the client as
// fast as the client's window lets it. The dualws client receives (in
// some shapes slowly, or with a small ReceiveQueue) and meanwhile Sends a
// 16-byte message every 100 µs (-b2b: back to back), from the start or
// after a random delay (-delay), until a Send fails.
//
// Every Send that returned nil is judged by when it started, against
// three stamps:
//
//   - arrival: the relay read the close. A diagnostic line tells where
//     the close was when the first Send of the run that started 3 ms or
//     more after it, and returned nil, started. This judge also counts the
//     time the relay, a process, waits to be scheduled once the client's
//     window opens again, as a server blocked in its write would: on the
//     2 cores here, where the client computes and sends on both, it fails
//     about 1 run in 80, with the Send's look as with the rule before it.
//   - delivery: the relay's Write that carried the close returned: the
//     close was in the client's socket, or in the relay's kernel behind
//     the client's closed window, which sends it once the window opens.
//     This is the promise (README): a Send that started 3 ms or more after
//     it and returned nil is a failure, and the command exits with status
//     1 if any run has one (-gate arrival judges by arrival instead).
//   - write stamp: the server was about to write its close. This judges
//     the server's pacing, not the client: a paced server's kernel holds
//     the close for milliseconds after the write, and a client cannot fail
//     a Send for a close that has not left the server. For information.
//
// The table has a line per shape: its runs, those that could not be judged
// (errs; exit status 2 if any, when none failed, which go run reports as
// 1), the Sends made, and per judge the runs with a late accepted Send and
// the latest start of an accepted Send after the stamp (negative: before
// it).
//
// Linux only. Run it from bench/ (make arrival runs every shape 10 times):
//
//	cd bench && go run ./arrival -runs 10 -shapes e1,er
//	cd bench && go run -race ./arrival               # parent and child under the race detector
//	cd bench && go run -tags dualws_bench_nosendcheck ./arrival -shapes er   # fails: Send does not look
//
// -echo measures round trips (Send then Receive) against an echo server
// instead, without the relay.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		if err := serveChild(); err != nil {
			fmt.Fprintln(os.Stderr, "arrival serve:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(run())
}

func run() int {
	var all []string
	for _, sh := range shapes() {
		all = append(all, sh.key)
	}
	runs := flag.Int("runs", 10, "runs per shape")
	shapeList := flag.String("shapes", strings.Join(all, ","), "shapes to run, comma-separated")
	b2b := flag.Bool("b2b", false, "Send back to back (default: one Send every 100 µs)")
	delay := flag.Duration("delay", 0, "start sending after a uniform random delay in [0, delay)")
	doEcho := flag.Bool("echo", false, "measure echo round trips instead")
	verbose := flag.Bool("v", false, "print the diagnostics of every failed run (default: 3 a shape)")
	gateName := flag.String("gate", "delivery", "the judge whose failures make the exit status 1: delivery or arrival")
	flag.Parse()

	var todo []shape
	for _, k := range strings.Split(*shapeList, ",") {
		sh, ok := findShape(k)
		if !ok {
			fmt.Fprintf(os.Stderr, "arrival: no shape %q (shapes: %s)\n", k, strings.Join(all, ","))
			return 2
		}
		todo = append(todo, sh)
	}
	gate := byDelivery
	switch *gateName {
	case "delivery":
	case "arrival":
		gate = byArrival
	default:
		fmt.Fprintf(os.Stderr, "arrival: -gate %q: want delivery or arrival\n", *gateName)
		return 2
	}
	if *runs < 1 || flag.NArg() > 0 {
		flag.Usage()
		return 2
	}

	addrs, stop, err := startChild()
	if err != nil {
		fmt.Fprintln(os.Stderr, "arrival:", err)
		return 2
	}
	defer stop()
	serverAddr, relayAddr, controlAddr := addrs[0], addrs[1], addrs[2]
	ctx := context.Background()
	if *doEcho {
		if err := echoRoundTrips(ctx, os.Stdout, serverAddr); err != nil {
			fmt.Fprintln(os.Stderr, "arrival: echo:", err)
			return 1
		}
		return 0
	}

	how := sending{backToBack: *b2b, delay: *delay, limit: 15 * time.Second}
	mode := "a Send every 100 µs"
	if *b2b {
		mode = "Sends back to back"
	}
	if *delay > 0 {
		mode += fmt.Sprintf(", starting after up to %v", *delay)
	}
	fmt.Printf("arrival: %d runs a shape, %s; a failure: an accepted Send that started %v or more after the close's %s\n", *runs, mode, slack, gate)
	head(os.Stdout)
	maxDiags := 3
	if *verbose {
		maxDiags = -1
	}
	var failed, errs int
	start := time.Now()
	for _, sh := range todo {
		var s shapeResult
		for i := range *runs {
			s.add(i, runOnce(ctx, sh, relayAddr, controlAddr, how))
		}
		s.row(os.Stdout, sh, maxDiags)
		failed += s.failed[gate]
		errs += s.errs
	}
	switch {
	case failed > 0:
		fmt.Printf("arrival: FAIL: %d runs with a Send accepted after the close's %s (%v)\n", failed, gate, time.Since(start).Round(time.Second))
		return 1
	case errs > 0:
		fmt.Printf("arrival: %d runs could not be judged (%v)\n", errs, time.Since(start).Round(time.Second))
		return 2
	}
	fmt.Printf("arrival: ok (%v)\n", time.Since(start).Round(time.Second))
	return 0
}

// startChild re-executes this binary as `arrival serve` and returns the
// addresses it prints: the server's, the relay's and the relay's control
// endpoint's. stop ends the child (it exits when its standard input
// closes) and waits for it.
func startChild() (addrs [3]string, stop func(), err error) {
	self, err := os.Executable()
	if err != nil {
		return addrs, nil, err
	}
	cmd := exec.Command(self, "serve")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return addrs, nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return addrs, nil, err
	}
	if err := cmd.Start(); err != nil {
		return addrs, nil, err
	}
	stop = func() {
		in.Close()
		cmd.Wait()
	}
	if _, err := fmt.Fscanln(out, &addrs[0], &addrs[1], &addrs[2]); err != nil {
		stop()
		return addrs, nil, errors.Join(errors.New("the child process printed no addresses"), err)
	}
	return addrs, stop, nil
}
