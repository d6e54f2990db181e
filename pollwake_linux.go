//go:build linux

package dualws

import (
	"context"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// pollWaker is where a native Receive waits for the reader, on Linux: an
// eventfd in Go's network poller. A goroutine readied through a channel
// or a mutex makes the runtime wake an idle thread for it (wakep), and on
// the benchmark VM that wake-up of another CPU cost 15–55 µs at times: an
// echo's p99 of 64 µs against coder/websocket's 14. A goroutine readied by the
// poller runs on the thread that polled: when the reader goes back to its
// socket and parks, its own thread finds the Receive and runs it. The
// cost is one write to the eventfd per wake and one descriptor per
// connection that has waited in Receive.
//
// It pays only where Go's threads are often idle: with many connections
// (over pollWakeConns open in the process) the channel's wake-up finds no
// idle thread to wake, and the write is extra. Measured with 2,000
// connections echoing every 100 ms (bench/load), every Receive waiting
// here: round-trip p50 133 µs and p99 893–919 µs against 113 µs and
// 682–778 µs on channels.
//
// One Receive at a time waits here (pollWait.waiting); others wait on
// the client's channels. seq counts wakes: a waiter takes it under the
// client's lock and returns once it moves, so a wake between the lock and
// the poller is not lost.
type pollWaker struct {
	file  *os.File
	raw   syscall.RawConn
	fd    int
	seq   atomic.Uint32
	want  uint32             // the waiter's seq, under the client's lock
	moved func(uintptr) bool // bound once: a closure per wait would allocate
}

// pollWakes says that a Receive may wait on a pollWaker.
const pollWakes = true

// pollWakeConns is how many native connections may be open in the
// process for a Receive to wait on a pollWaker; pollConns counts them.
const pollWakeConns = 16

var pollConns atomic.Int32

// pollWait is the native driver's part: its waker, made by the first
// Receive that waits, whether a Receive waits there, and whether there
// can be no waker (it could not be made, or the connection has ended).
// Under the client's lock, but for afterWake.
type pollWait struct {
	waker   *pollWaker
	waiting bool
	noWaker bool
	stream  bool // the last wait ended with more than one message queued
	// afterWake counts Sends since a wait on the waker ended, to 2, and
	// sent is set by a Send, cleared by a wait on the waker; no lock
	// (pollNudge).
	afterWake atomic.Int32
	sent      atomic.Bool
}

// newPollWaker returns nil when the eventfd cannot be made (out of
// descriptors, say) or the poller does not take it: Receive then waits on
// channels, as elsewhere.
func newPollWaker() *pollWaker {
	fd, _, errno := syscall.RawSyscall(syscall.SYS_EVENTFD2, 0, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errno != 0 {
		return nil
	}
	return pollWakerOn(int(fd))
}

// pollWakerOn makes the waker of the eventfd fd, or closes it and returns
// nil when the poller does not take it. os.NewFile keeps a descriptor the
// poller refused (epoll's watches used up, or out of kernel memory) as a
// blocking file, on which a wait returns at once: a Receive would spin on
// it (helper 58's attack, a core's worth of CPU). Such a file has no
// deadlines, which is how it is told apart.
func pollWakerOn(fd int) *pollWaker {
	w := &pollWaker{file: os.NewFile(uintptr(fd), "dualws-receive"), fd: fd}
	raw, err := w.file.SyscallConn()
	if err != nil || w.file.SetReadDeadline(time.Time{}) != nil {
		w.file.Close()
		return nil
	}
	w.raw = raw
	w.moved = func(uintptr) bool { return w.seq.Load() != w.want }
	return w
}

// arm takes the wake count for the next wait; under the client's lock.
func (w *pollWaker) arm() { w.want = w.seq.Load() }

// wait returns once wake has been called after arm, or the eventfd is
// closed, with the poller's error if it failed. The poller reports every
// write to an eventfd, so the counter is never read back.
func (w *pollWaker) wait() error { return w.raw.Read(w.moved) }

// wake ends the wait; under the client's lock.
func (w *pollWaker) wake() {
	w.seq.Add(1)
	one := uint64(1)
	syscall.Write(w.fd, (*[8]byte)(unsafe.Pointer(&one))[:])
}

// close releases the descriptor; a wait still under way returns.
func (w *pollWaker) close() { w.file.Close() }

// pollWaits waits, for a Receive with ctx, on the waker until a message
// is queued, the status is decided or ctx ends, and reports true, with
// ctx's error if it ended; it is called and returns under c.mu. A context
// that can end wakes the wait through context.AfterFunc (two allocations
// a wait). It reports false at once, for the Receive to wait on channels,
// while another Receive waits on the waker, in a stream (pollWoken), over
// pollWakeConns connections, where no waker could be made, and unless a
// Send came since the last wait on the waker: the poller serves a
// request and its response. A stream of messages the reader takes one
// after the other without parking left a Receive on the waker until the
// runtime's monitor polled, up to 10 ms (the longest gap between 256 KiB
// messages 8–11.5 ms, against 5–7 ms on channels).
func pollWaits(c *Client, ctx context.Context) (bool, error) {
	d, ok := c.t.(*nativeConn)
	if !ok {
		return false, nil
	}
	p := &d.pw
	if p.waiting || p.noWaker || p.stream || !p.sent.Load() || pollConns.Load() > pollWakeConns {
		return false, nil
	}
	if err := ctx.Err(); err != nil {
		return true, err
	}
	if p.waker == nil {
		if p.waker = newPollWaker(); p.waker == nil {
			p.noWaker = true
			return false, nil
		}
	}
	w := p.waker
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() {
			c.mu.Lock()
			if p.waker == w && p.waiting { // not once closed: its descriptor's number may be another file's
				w.wake()
			}
			c.mu.Unlock()
		})
	}
	w.arm()
	p.waiting = true
	p.sent.Store(false)
	c.mu.Unlock()
	err := w.wait()
	if stop != nil {
		stop()
	}
	c.mu.Lock()
	p.waiting = false
	if err != nil && p.waker == w {
		// Not closed by the connection's end: a poller that failed is not
		// waited on again, so that no Receive spins on it.
		p.drop()
	}
	p.stream = c.m.queueLen() > 1
	p.afterWake.Store(1)
	if stop != nil {
		return true, ctx.Err()
	}
	return true, nil
}

// pollWoken notes, for a Receive woken on channels, whether the reader
// is streaming: a wait that ends with more than one message queued (the
// reader's batch) is one in a stream, where the channel's wake-up lets
// the Receive run beside the reader, on another thread, and the poller's
// would run it only once the reader parks: a flood of 32-byte messages
// was received 20% slower. Under c.mu.
func pollWoken(c *Client) {
	if d, ok := c.t.(*nativeConn); ok {
		d.pw.stream = c.m.queueLen() > 1
	}
}

// pollWake wakes the Receive waiting on the waker for a message queued or
// the status decided (input), and closes the waker once the connection
// has ended (final), the waiting Receive having been woken at the
// decision. A Receive woken but not yet run at the next input is one the
// poller has not reported, because no thread polled: a thread is woken
// for it, which the channel's wake-up would have done at once. Under c.mu.
func pollWake(c *Client, input, final bool) {
	d, ok := c.t.(*nativeConn)
	if !ok {
		return
	}
	p := &d.pw
	if input && p.waiting {
		if w := p.waker; w.seq.Load() != w.want {
			// Woken at an earlier input and not yet run: the reader has
			// read on without parking, and no thread has polled since.
			wakeAThread()
		} else {
			w.wake()
		}
	}
	if final && p.waker != nil {
		p.drop()
	}
}

// drop closes the waker for good: Receive waits on channels from then on.
// Under c.mu.
func (p *pollWait) drop() {
	p.waker.close()
	p.waker, p.noWaker = nil, true
}

// pollNudge runs at the start of each native Send. A wait on the waker
// leaves the runtime's other threads parked, none of them in the network
// poller (that is its point: no thread was woken). A goroutine that then
// sends without blocking keeps its thread, and a network event for any
// other goroutine of the process waited for the runtime's monitor, up to
// 10 ms: with an in-process server, the server's close came 3.5 ms late
// in BenchmarkCloseDetect. At the second Send in a row after such a wait
// a goroutine is started and ends at once: starting it wakes an idle
// thread, which then waits in the poller. A request and its response, one
// Send per wait, never start one.
func pollNudge(p *pollWait) {
	if !p.sent.Load() {
		p.sent.Store(true)
	}
	switch p.afterWake.Load() {
	case 0:
	case 1:
		p.afterWake.Store(2)
	default:
		p.afterWake.Store(0)
		wakeAThread()
	}
}

// wakeAThread starts a goroutine that ends at once (a variable for the
// tests).
var wakeAThread = func() { go func() {}() }
