//go:build linux

package dualws

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// setPollConnsAside takes the connections other tests left open out of
// pollConns for this test, so that its own are under pollWakeConns.
func setPollConnsAside(t *testing.T) {
	n := pollConns.Load()
	pollConns.Add(-n)
	t.Cleanup(func() { pollConns.Add(n) })
}

// waitReturns fails the test if wait has not returned within a second.
func waitReturns(t *testing.T, w *pollWaker) {
	t.Helper()
	done := make(chan struct{})
	go func() { w.wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
		w.close() // ends the wait, so that no goroutine outlives the test
		<-done
		t.Fatal("wait did not return after wake")
	}
}

func TestPollWakerKeepsAWakeBeforeTheWait(t *testing.T) {
	w := newPollWaker()
	require.NotNil(t, w)
	defer w.close()
	w.arm()
	w.wake() // between the client's lock and the poller
	waitReturns(t, w)
	w.arm()
	go func() { time.Sleep(5 * time.Millisecond); w.wake() }()
	waitReturns(t, w)
}

func TestPollWakerWaitsUntilWoken(t *testing.T) {
	w := newPollWaker()
	require.NotNil(t, w)
	w.wake() // an earlier wake is not this wait's
	w.arm()
	done := make(chan struct{})
	go func() { w.wait(); close(done) }()
	select {
	case <-done:
		t.Fatal("wait returned before wake")
	case <-time.After(20 * time.Millisecond):
	}
	w.close()
	<-done
}

// TestReceiveWaitsOnThePoller: after a Send, one Receive waits on the
// waker, a second one at the same time on the channels, and
// a message, then the peer's close, reach both; the descriptor is closed
// once the connection is.
func TestReceiveWaitsOnThePoller(t *testing.T) {
	setPollConnsAside(t)
	release := make(chan struct{})
	url := serve(t, func(ctx context.Context, c *websocket.Conn) {
		<-release
		c.Write(ctx, websocket.MessageText, []byte("one"))
		c.Write(ctx, websocket.MessageText, []byte("two"))
		c.Close(4001, "bye")
	})
	c, _ := dial(t, url, nil)
	require.NoError(t, c.SendText(context.Background(), "request")) // the poller serves a request's response
	type result struct {
		data string
		err  error
	}
	results := make(chan result, 4)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				_, p, err := c.Receive(context.Background())
				results <- result{string(p), err}
				if err != nil {
					return
				}
			}
		})
	}
	waitFor := func(cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatal("condition not met")
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitFor(func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.t.(*nativeConn).pw.waiting && c.receivers == 1
	})
	c.mu.Lock()
	w := c.t.(*nativeConn).pw.waker
	c.mu.Unlock()
	close(release)
	ended := make(chan struct{})
	go func() { wg.Wait(); close(ended) }()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		w.close() // the Receives return, so that the test ends
		<-ended
		t.Fatal("a waiting Receive was not woken")
	}
	close(results)
	var got []string
	closes := 0
	for r := range results {
		if r.err != nil {
			var ce *CloseError
			require.True(t, errors.As(r.err, &ce), "%v", r.err)
			require.Equal(t, StatusCode(4001), ce.Status.Code)
			closes++
			continue
		}
		got = append(got, r.data)
	}
	require.ElementsMatch(t, []string{"one", "two"}, got)
	require.Equal(t, 2, closes)
	waitDone(t, c)
	c.mu.Lock()
	defer c.mu.Unlock()
	require.Nil(t, c.t.(*nativeConn).pw.waker)
	require.Equal(t, ^uintptr(0), w.file.Fd(), "the eventfd is still open")
}

// TestReceiveWithAContextWaitsOnThePoller: a context that can end wakes
// the wait when it ends, and a message still ends the wait before it.
func TestReceiveWithAContextWaitsOnThePoller(t *testing.T) {
	setPollConnsAside(t)
	send := make(chan struct{})
	url := serve(t, func(ctx context.Context, c *websocket.Conn) {
		<-send
		c.Write(ctx, websocket.MessageText, []byte("hi"))
		for {
			if _, _, err := c.Read(ctx); err != nil {
				return
			}
		}
	})
	c, _ := dial(t, url, &Options{PingInterval: -1})
	defer waitDone(t, c)
	defer c.Close(StatusNormalClosure, "")
	d := c.t.(*nativeConn)
	polled := func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return d.pw.waiting
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	require.NoError(t, c.SendText(ctx, "request"))
	go func() {
		_, _, err := c.Receive(ctx)
		errc <- err
	}()
	for !polled() {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-errc:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(2 * time.Second):
		c.mu.Lock()
		d.pw.waker.close() // ends the wait, so that no goroutine outlives the test
		c.mu.Unlock()
		<-errc
		t.Fatal("the wait did not end with its context")
	}
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got := make(chan string, 1)
	require.NoError(t, c.SendText(ctx, "request"))
	go func() {
		_, p, _ := c.Receive(ctx)
		got <- string(p)
	}()
	for !polled() {
		time.Sleep(time.Millisecond)
	}
	close(send)
	require.Equal(t, "hi", <-got)
}

// TestPollWaitEndsAtTheDecision: a Receive waiting on the poller returns
// the peer's close once it is decided, not when the connection ends
// (here the peer holds TCP open after its close frame).
func TestPollWaitEndsAtTheDecision(t *testing.T) {
	setPollConnsAside(t)
	send, release := make(chan struct{}), make(chan struct{})
	url := hijackServe(t, func(conn net.Conn, rw *bufio.ReadWriter) {
		defer conn.Close()
		<-send
		rw.Write(closeFrameBytes(4001, []byte("bye")))
		rw.Flush()
		<-release
	})
	c, _ := dial(t, url, &Options{PingInterval: -1})
	defer waitDone(t, c)
	defer close(release)
	errc, statec := make(chan error, 1), make(chan State, 1)
	require.NoError(t, c.SendText(context.Background(), "request"))
	go func() {
		_, _, err := c.Receive(context.Background())
		statec <- c.State()
		errc <- err
	}()
	for {
		c.mu.Lock()
		waiting := c.t.(*nativeConn).pw.waiting
		c.mu.Unlock()
		if waiting {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(send)
	require.Equal(t, Closing, <-statec, "the waiting Receive returned only when the connection ended")
	err := <-errc
	var ce *CloseError
	require.True(t, errors.As(err, &ce), "%v", err)
	require.Equal(t, StatusCode(4001), ce.Status.Code)
}

// requireChannelWait dials a server that sends one message once told,
// runs prepare on the client, and requires that a Receive then waits on
// channels and makes no waker.
func requireChannelWait(t *testing.T, prepare func(c *Client)) {
	t.Helper()
	setPollConnsAside(t)
	send := make(chan struct{})
	url := serve(t, func(ctx context.Context, c *websocket.Conn) {
		<-send
		c.Write(ctx, websocket.MessageText, []byte("late"))
		c.Close(websocket.StatusNormalClosure, "")
	})
	c, _ := dial(t, url, nil)
	prepare(c)
	got := make(chan string, 1)
	go func() {
		_, p, _ := c.Receive(context.Background())
		got <- string(p)
	}()
	var waker *pollWaker
	for {
		c.mu.Lock()
		n, polled := c.receivers, c.t.(*nativeConn).pw.waiting
		waker = c.t.(*nativeConn).pw.waker
		c.mu.Unlock()
		if n == 1 || polled {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(send)
	require.Equal(t, "late", <-got)
	require.Nil(t, waker)
	waitDone(t, c)
}

// TestReceiveWithoutASendWaitsOnChannels: a Receive with no Send since
// the last wait on the waker (a stream the reader may take without
// parking) waits on channels and makes no waker.
func TestReceiveWithoutASendWaitsOnChannels(t *testing.T) {
	requireChannelWait(t, func(*Client) {})
}

// TestManyConnectionsWaitOnChannels: over pollWakeConns open connections
// in the process, a Receive waits on channels and makes no waker.
func TestManyConnectionsWaitOnChannels(t *testing.T) {
	requireChannelWait(t, func(c *Client) {
		pollConns.Add(pollWakeConns) // with c's own, one over
		t.Cleanup(func() { pollConns.Add(-pollWakeConns) })
		require.NoError(t, c.SendText(context.Background(), "request"))
	})
}

// TestAStreamWaitsOnChannels: a wait that ends with the reader's batch of
// several messages queued marks a stream, whose next wait is on channels
// (the Receive then runs beside the reader); one that ends with a single
// message returns to the poller.
func TestAStreamWaitsOnChannels(t *testing.T) {
	setPollConnsAside(t)
	step := make(chan int)
	url := hijackServe(t, func(conn net.Conn, rw *bufio.ReadWriter) {
		defer conn.Close()
		for n := range step {
			var b []byte
			for range n {
				b = append(b, serverFrame(0x81, false, []byte("m"))...)
			}
			rw.Write(b) // the batch in one write: the reader takes it whole
			rw.Flush()
		}
	})
	c, _ := dial(t, url, &Options{PingInterval: -1})
	defer waitDone(t, c)
	defer c.Close(StatusNormalClosure, "")
	defer close(step) // the server ends the connection first
	d := c.t.(*nativeConn)
	// waitsOn sends n messages once a Receive waits, and reports whether
	// it waited on the poller; the Receives take all n.
	waitsOn := func(n int) (polled bool) {
		t.Helper()
		require.NoError(t, c.SendText(context.Background(), "request"))
		got := make(chan error, n)
		go func() {
			for range n {
				_, _, err := c.Receive(context.Background())
				got <- err
			}
		}()
		for {
			c.mu.Lock()
			p, r := d.pw.waiting, c.receivers
			c.mu.Unlock()
			if p || r == 1 {
				polled = p
				break
			}
			time.Sleep(time.Millisecond)
		}
		step <- n
		for range n {
			require.NoError(t, <-got)
		}
		return polled
	}
	require.True(t, waitsOn(3), "the first wait is on the poller")
	require.False(t, waitsOn(1), "after a batch of 3, on channels")
	require.True(t, waitsOn(1), "after a single message, on the poller again")
}

// TestSecondSendAfterAPollWaitWakesAThread: the second Send in a row after
// a wait on the waker wakes a thread, once; Sends that alternate with
// such waits never do.
func TestSecondSendAfterAPollWaitWakesAThread(t *testing.T) {
	woken := 0
	defer func(f func()) { wakeAThread = f }(wakeAThread)
	wakeAThread = func() { woken++ }
	var p pollWait
	for range 3 { // request and response
		p.afterWake.Store(1) // a wait ended
		pollNudge(&p)
	}
	require.Zero(t, woken)
	for range 5 {
		pollNudge(&p)
	}
	require.Equal(t, 1, woken, "a flood after a wait")
	for range 5 {
		pollNudge(&p) // no wait since: nothing to do
	}
	require.Equal(t, 1, woken)
}

// TestAWakeNotYetRunWakesAThread: when the reader hands over again
// before the Receive it woke has run (no thread polled), a thread is woken
// instead of writing the eventfd again.
func TestAWakeNotYetRunWakesAThread(t *testing.T) {
	woken := 0
	defer func(f func()) { wakeAThread = f }(wakeAThread)
	wakeAThread = func() { woken++ }
	c := &Client{}
	d := &nativeConn{c: c}
	c.t = d
	w := newPollWaker()
	require.NotNil(t, w)
	defer w.close()
	d.pw.waker, d.pw.waiting = w, true
	w.arm()
	pollWake(c, true, false)
	require.Zero(t, woken, "the first input writes the eventfd")
	require.NotEqual(t, w.want, w.seq.Load())
	pollWake(c, true, false)
	require.Equal(t, 1, woken, "the second, before the Receive ran")
}

// TestPollWakerRefusedByThePoller: an eventfd the poller did not take
// (here a blocking one, which os.NewFile keeps out of it, as it keeps one
// epoll refused) makes no waker, so Receive waits on channels instead of
// spinning on a wait that returns at once.
func TestPollWakerRefusedByThePoller(t *testing.T) {
	fd, _, errno := syscall.RawSyscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC, 0)
	require.Zero(t, errno)
	require.Nil(t, pollWakerOn(int(fd)))
	var st syscall.Stat_t
	require.Error(t, syscall.Fstat(int(fd), &st), "the refused eventfd is still open")
}
