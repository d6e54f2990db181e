package main

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// proc is the built dualws command running against the scenario server.
type proc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	err    error
}

func startBinary(t *testing.T, args ...string) *proc {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	p := &proc{stdout: newSyncBuffer(), stderr: newSyncBuffer(), done: make(chan struct{})}
	p.cmd = exec.Command(binPath, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	stdin, err := p.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stdin = stdin
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// exitCode waits for the process and returns its exit status.
func (p *proc) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(guard):
		t.Fatalf("dualws did not exit; stderr:\n%s", p.stderr)
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee) && ee.Exited():
		return ee.ExitCode()
	}
	t.Fatalf("dualws did not exit normally: %v\nstderr:\n%s", p.err, p.stderr)
	return -1
}

func (p *proc) expectExit(t *testing.T, want int) {
	t.Helper()
	if got := p.exitCode(t); got != want {
		t.Fatalf("dualws exited with %d, want %d\nstdout:\n%s\nstderr:\n%s", got, want, p.stdout, p.stderr)
	}
}

// noPanic fails if the output looks like a Go crash.
func noPanic(t *testing.T, out string) {
	t.Helper()
	for _, bad := range []string{"panic:", "goroutine ", "runtime error"} {
		if strings.Contains(out, bad) {
			t.Fatalf("output has %q:\n%s", bad, out)
		}
	}
}

func TestBinaryCleanClose(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	p := startBinary(t, sc.ws+"/ws/echo?id=bin-clean")
	io.WriteString(p.stdin, "hello\n")
	p.stdout.waitFor(t, "stdout", "hello\n")
	p.stdin.Close()
	p.expectExit(t, exitClean)
	if got := p.stdout.String(); got != "hello\n" {
		t.Errorf("stdout = %q, want the echo", got)
	}
	requireLine(t, "stderr", p.stderr.String(), "CLOSED", `code=1000 reason="" clean=true by=client`)
	if obs := sc.observed(t, "bin-clean"); obs.CloseCode != 1000 || obs.Messages != 1 {
		t.Errorf("server observed %+v, want one message and a close with 1000", obs)
	}
}

func TestBinaryServerCloses4000(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	p := startBinary(t, sc.ws+"/ws/close?after=1&code=4000&reason=going")
	io.WriteString(p.stdin, "one\n")
	p.expectExit(t, exitCode)
	if got := p.stdout.String(); got != "one\n" {
		t.Errorf("stdout = %q, want the echo", got)
	}
	errOut := p.stderr.String()
	requireLine(t, "stderr", errOut, "CLOSING", `code=4000 reason="going" clean=false by=server`)
	requireLine(t, "stderr", errOut, "CLOSED", `code=4000 reason="going" clean=true by=server`)
}

func TestBinaryDrop(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	p := startBinary(t, sc.ws+"/ws/drop")
	p.expectExit(t, exitDropped)
	requireLine(t, "stderr", p.stderr.String(), "CLOSED", "code=1006", "clean=false by=network")
}

func TestBinaryRefusedDial(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	url := sc.ws + "/ws/reject?status=403"
	p := startBinary(t, url)
	p.expectExit(t, exitDial)
	errOut := p.stderr.String()
	noPanic(t, errOut)
	if l := lines(errOut); len(l) != 1 || !strings.Contains(l[0], url) || !strings.Contains(l[0], "HTTP 403") {
		t.Errorf("stderr = %q, want one line with the URL and HTTP 403", l)
	}
}

func TestBinaryUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-bogus", "ws://x"}, {"not a url"}, {}} {
		p := startBinary(t, args...)
		p.expectExit(t, exitUsage)
		errOut := p.stderr.String()
		noPanic(t, errOut)
		if l := lines(errOut); len(l) != 1 || !strings.HasPrefix(l[0], "dualws: ") {
			t.Errorf("dualws %q: stderr = %q, want one line", args, l)
		}
	}
}

// interruptTwice runs the binary on path with -close-timeout 1h,
// interrupts it once OPEN, then again once CLOSING, and returns its exit
// status, its stderr's last line and how long it took to exit after the
// second interrupt. It checks that the second interrupt was announced.
func interruptTwice(t *testing.T, path string) (code int, last string, waited time.Duration) {
	t.Helper()
	sc := newScenario(t)
	p := startBinary(t, "-close-timeout", "1h", sc.ws+path)
	p.stderr.waitFor(t, "stderr", "OPEN")
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	p.stderr.waitFor(t, "stderr", "CLOSING")
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code = p.exitCode(t)
	waited = time.Since(start)
	errOut := p.stderr.String()
	requireLine(t, "stderr", errOut, "second interrupt: dropping the connection")
	l := lines(errOut)
	return code, l[len(l)-1], waited
}

// The first interrupt closes with 1000; the server of /ws/noclose never
// answers, so the second interrupt must end the command at once, before
// the close timeout would, and still print the final CLOSED line: 1006,
// not clean, without the reason "close timeout" of a wait that ran out.
func TestBinarySecondInterruptDrops(t *testing.T) {
	t.Parallel()
	code, last, _ := interruptTwice(t, "/ws/noclose")
	if code != exitDropped || !strings.Contains(last, "CLOSED") || !strings.Contains(last, `code=1006 reason="" clean=false`) {
		t.Errorf("exit %d, last stderr line %q: want %d and CLOSED with 1006 at once (not after the close timeout)", code, last, exitDropped)
	}
}

// After a clean close handshake the client waits up to 2 s for the
// server's end of TCP, which /ws/noclose?answer=1 never sends: a second
// interrupt must end that wait at once. A close whose handshake had ended
// stays clean, with exit status 0; one the interrupt caught before the
// answer arrived is a drop (1006, 4).
func TestBinarySecondInterruptEndsTheWaitForTCP(t *testing.T) {
	t.Parallel()
	code, last, waited := interruptTwice(t, "/ws/noclose?answer=1")
	if waited > time.Second {
		t.Errorf("the second interrupt took %v to end the wait for the server's end of TCP (2 s)", waited)
	}
	clean := strings.Contains(last, `CLOSED   code=1000 reason="" clean=true`)
	dropped := strings.Contains(last, `CLOSED   code=1006 reason="" clean=false`)
	if !(clean && code == exitClean || dropped && code == exitDropped) {
		t.Errorf("exit %d, last stderr line %q: want a clean CLOSED 1000 and exit %d, or 1006 and %d", code, last, exitClean, exitDropped)
	}
}
