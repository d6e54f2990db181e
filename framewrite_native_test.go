//go:build !js

package dualws

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// frameSizes cross every boundary of the frame writer: the header's length
// forms, the mask's 8- and 32-byte steps, the connection's own buffer and
// the 64 KiB fragments.
var frameSizes = []int{0, 1, 3, 7, 8, 9, 31, 32, 33, 125, 126, 127, 4088, 4089, 8184, 8185, 16377, 32760, 32761, 65535, 65536, 65537, 3*65536 + 5}

// Every size and type of Send reaches a coder/websocket server whole (it
// checks the masking and the fragments) and comes back as sent.
func TestOwnFramesReachACoderServerWhole(t *testing.T) {
	c, _ := dial(t, serve(t, func(ctx context.Context, c *websocket.Conn) {
		c.SetReadLimit(-1)
		echo(ctx, c)
	}), &Options{PingInterval: -1})
	ctx := context.Background()
	for _, n := range frameSizes {
		bin := make([]byte, n)
		for i := range bin {
			bin[i] = byte(i*7 + n)
		}
		text := strings.Repeat("é€x", (n+5)/6) // cut at 64 KiB inside a character
		for _, m := range []struct {
			typ MessageType
			p   []byte
		}{{Binary, bin}, {Text, []byte(text)}} {
			require.NoError(t, c.Send(ctx, m.typ, m.p), "Send of %d bytes", len(m.p))
			typ, got, err := c.Receive(ctx)
			require.NoError(t, err)
			assert.Equal(t, m.typ, typ)
			assert.True(t, bytes.Equal(m.p, got), "%v of %d bytes came back changed", m.typ, len(m.p))
		}
	}
	require.NoError(t, c.Close(StatusNormalClosure, ""))
}

// wireFrame is a frame as the peer reads it.
type wireFrame struct {
	fin     bool
	op      byte
	key     uint32
	payload []byte
}

// readWireFrame reads and unmasks one client frame, independently of the
// writer's code.
func readWireFrame(r io.Reader) (wireFrame, error) {
	var h [14]byte
	if _, err := io.ReadFull(r, h[:2]); err != nil {
		return wireFrame{}, err
	}
	f := wireFrame{fin: h[0]&0x80 != 0, op: h[0] & 0x0f}
	if h[1]&0x80 == 0 {
		return f, errors.New("unmasked client frame")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		io.ReadFull(r, h[:2])
		n = uint64(h[0])<<8 | uint64(h[1])
	case 127:
		io.ReadFull(r, h[:8])
		n = binary.BigEndian.Uint64(h[:8])
	}
	var key [4]byte
	if _, err := io.ReadFull(r, key[:]); err != nil {
		return f, err
	}
	f.key = binary.LittleEndian.Uint32(key[:])
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(r, f.payload); err != nil {
		return f, err
	}
	for i := range f.payload {
		f.payload[i] ^= key[i%4]
	}
	return f, nil
}

type bufferConn struct{ bytes.Buffer }

func (*bufferConn) Close() error { return nil }

// The frames on the wire: one per message up to 64 KiB, fragments past
// it (a first frame with the type, continuations, the last with FIN), each
// with a mask key of its own.
func TestOwnFramesOnTheWire(t *testing.T) {
	var wire bufferConn
	d := &nativeConn{raw: &trackedConn{rwc: &wire}}
	keys := map[uint32]bool{}
	frames := 0
	for _, n := range frameSizes {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i + 1)
		}
		d.inFlight.Add(int64(n))
		require.NoError(t, d.writeMessage(Binary, p))
		var got []byte
		for first := true; ; first = false {
			f, err := readWireFrame(&wire)
			require.NoError(t, err, "message of %d bytes", n)
			frames++
			keys[f.key] = true
			wantOp := byte(Binary)
			if !first {
				wantOp = opContinuation
			}
			require.Equal(t, wantOp, f.op, "message of %d bytes", n)
			require.LessOrEqual(t, len(f.payload), fragmentSize)
			got = append(got, f.payload...)
			if f.fin {
				break
			}
		}
		require.True(t, bytes.Equal(p, got), "message of %d bytes came out changed", n)
		assert.Zero(t, d.inFlight.Load(), "BufferedAmount after the message")
	}
	assert.Zero(t, wire.Len(), "bytes after the last frame")
	assert.Len(t, keys, frames, "a mask key came twice in %d frames", frames)
}

// stepConn hands each Write to the test (writes) and returns the error
// the test answers (results).
type stepConn struct {
	bufferConn
	writes  chan []byte
	results chan error
}

func (s *stepConn) Write(p []byte) (int, error) {
	s.writes <- append([]byte(nil), p...)
	if err := <-s.results; err != nil {
		return 0, err
	}
	return len(p), nil
}

// blockedDataFrame starts a data frame whose Write waits for the test's
// answer on sc.results, and returns once it is under way.
func blockedDataFrame(t *testing.T) (tc *trackedConn, sc *stepConn, data []byte, result <-chan error) {
	sc = &stepConn{writes: make(chan []byte), results: make(chan error)}
	tc = &trackedConn{rwc: sc}
	data = make([]byte, 2+4+100)
	putFrameHeader(data, true, byte(Binary), 100, 0x01020304)
	res := make(chan error, 1)
	go func() { res <- tc.writeFrame(data) }()
	require.Equal(t, data, <-sc.writes)
	return tc, sc, data, res
}

// coderWrite calls Write from another goroutine, as coder/websocket does.
func coderWrite(tc *trackedConn, frame []byte) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := tc.Write(frame)
		done <- err
	}()
	return done
}

// returnsBefore fails the test if done has not delivered within a while,
// and returns what it delivered.
func returnsBefore(t *testing.T, done <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(2 * time.Second):
		t.Fatal(what)
		return nil
	}
}

var pingFrame = []byte{0x89, 0x80 | 1, 0, 0, 0, 0, 'p'}

// A ping or pong that comes while a data frame waits for the peer does
// not wait (coder/websocket would close the connection after 5 s): it is
// queued, and written whole right after the data frame, whose Send gets
// its own frame's result.
func TestControlFrameGoesRightAfterABlockedDataFrame(t *testing.T) {
	tc, sc, data, result := blockedDataFrame(t)
	require.NoError(t, returnsBefore(t, coderWrite(tc, pingFrame), "coder/websocket's ping waited behind a data frame that the peer does not read"))
	sc.results <- nil
	assert.Equal(t, pingFrame, <-sc.writes, "the frame after the data frame")
	sc.results <- errBroken // the ping's write fails
	require.NoError(t, <-result, "the Send's frame went out whole")

	assert.ErrorIs(t, tc.writeFrame(data), errBroken, "a data frame after the ping's failed write")
	assert.True(t, tc.hasFailed(writeFailed))
}

// deadlineSocket stands for the socket under a trackedConn: it records
// the write deadlines a Send's context sets.
type deadlineSocket struct {
	net.Conn
	deadlines chan time.Time
}

func (s *deadlineSocket) SetWriteDeadline(t time.Time) error {
	s.deadlines <- t
	return nil
}

func (*deadlineSocket) Close() error { return nil }

// A Send's context that ends while its message is being written sets a
// write deadline; when that cuts a control frame queued behind the
// message, nothing can be written any more, and the connection is
// dropped: the Send returns nil (its message went out whole), and the
// connection does not stay open to Sends, unable to write.
func TestSendDeadlineCuttingAQueuedFrameDropsTheConnection(t *testing.T) {
	sc := &stepConn{writes: make(chan []byte), results: make(chan error)}
	sock := &deadlineSocket{deadlines: make(chan time.Time, 2)}
	d := &nativeConn{c: newClient("ws://test", &Options{PingInterval: -1}), raw: &trackedConn{rwc: sc, socket: sock}}
	d.c.t, d.raw.driver = d, d
	d.c.opened("")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := make(chan error, 1)
	go func() { res <- d.writeCtx(ctx, Binary, make([]byte, 100)) }()
	<-sc.writes
	require.NoError(t, returnsBefore(t, coderWrite(d.raw, pingFrame), "the ping waited behind the data frame"))
	cancel()
	<-sock.deadlines
	sc.results <- nil
	assert.Equal(t, pingFrame, <-sc.writes)
	sc.results <- os.ErrDeadlineExceeded
	require.NoError(t, <-res, "the message went out whole")
	assert.False(t, d.c.sendAllowed(), "the connection stayed open to Sends, unable to write")
	st, _ := d.c.CloseStatus()
	assert.Equal(t, statusSendInterrupted, st)
}

// A control frame that coder/websocket writes itself, cut by a Send's
// deadline (set while the frame was on its way), leaves the connection
// unable to write: it is dropped, not left open to Sends.
func TestDeadlineCuttingCodersOwnFrameDropsTheConnection(t *testing.T) {
	sc := &stepConn{writes: make(chan []byte), results: make(chan error)}
	d := &nativeConn{c: newClient("ws://test", &Options{PingInterval: -1}), raw: &trackedConn{rwc: sc}}
	d.c.t, d.raw.driver = d, d
	d.c.opened("")
	done := coderWrite(d.raw, pingFrame)
	<-sc.writes
	sc.results <- os.ErrDeadlineExceeded
	<-done
	assert.False(t, d.c.sendAllowed(), "the connection stayed open to Sends, unable to write")
}

// A data frame waits for a control frame that coder/websocket is writing
// itself: the frames never mix on the wire.
func TestDataFrameWaitsForCodersOwnFrame(t *testing.T) {
	sc := &stepConn{writes: make(chan []byte), results: make(chan error)}
	tc := &trackedConn{rwc: sc}
	pinged := coderWrite(tc, pingFrame)
	require.Equal(t, pingFrame, <-sc.writes)
	data := make([]byte, 6)
	putFrameHeader(data, true, byte(Binary), 0, 9)
	result := make(chan error, 1)
	go func() { result <- tc.writeFrame(data) }()
	waitUntil(t, tc, func() bool { return tc.idle != nil }, "the data frame did not wait for the ping")
	sc.results <- nil
	require.NoError(t, <-pinged)
	require.Equal(t, data, <-sc.writes)
	sc.results <- nil
	require.NoError(t, <-result)
}

// waitUntil waits, at most 2 s, until cond, called under tc's wmu, holds.
func waitUntil(t *testing.T, tc *trackedConn, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); ; runtime.Gosched() {
		tc.wmu.Lock()
		ok := cond()
		tc.wmu.Unlock()
		if ok {
			return
		}
		require.True(t, time.Now().Before(deadline), what)
	}
}

// A peer that floods pings while a Send is blocked gets one pong, the
// last, once the frame is through (RFC 6455 5.5.3): the queue holds one
// pong, not one per ping. Pings queued meanwhile all go.
func TestPingFloodDuringABlockedFrameHoldsOnePong(t *testing.T) {
	tc, sc, _, result := blockedDataFrame(t)
	var last []byte
	for i := range 1000 {
		last = []byte{0x8A, 0x80 | 2, 0, 0, 0, 0, byte(i >> 8), byte(i)}
		require.NoError(t, returnsBefore(t, coderWrite(tc, last), "a pong waited behind the blocked frame"))
	}
	require.NoError(t, returnsBefore(t, coderWrite(tc, pingFrame), "the keepalive ping waited behind the blocked frame"))
	tc.wmu.Lock()
	held := len(tc.queued) + len(tc.pong)
	tc.wmu.Unlock()
	assert.Equal(t, len(pingFrame)+len(last), held, "bytes queued behind the blocked frame")
	sc.results <- nil
	assert.Equal(t, append(append([]byte{}, pingFrame...), last...), <-sc.writes, "the frames after the data frame")
	sc.results <- nil
	require.NoError(t, <-result)
}

// Frames queued behind a blocked data frame go before coder/websocket's
// close frame, which waits for them.
func TestQueuedFramesGoBeforeTheCloseFrame(t *testing.T) {
	tc, sc, _, result := blockedDataFrame(t)
	require.NoError(t, returnsBefore(t, coderWrite(tc, pingFrame), "the ping waited behind the blocked frame"))
	closeFrame := []byte{0x88, 0x80 | 2, 0, 0, 0, 0, 0x03, 0xe8}
	closed := coderWrite(tc, closeFrame)
	waitUntil(t, tc, func() bool { return tc.idle != nil }, "the close frame did not wait for the frames before it")
	sc.results <- nil
	assert.Equal(t, pingFrame, <-sc.writes, "the frame after the data frame")
	sc.results <- nil
	require.NoError(t, <-result)
	assert.Equal(t, closeFrame, <-sc.writes, "the frame after the queued ping")
	sc.results <- nil
	require.NoError(t, <-closed)
}

// coder/websocket's close frame waits for the data frame being written
// (it closes the socket right after its close frame, which must not be
// left queued), and no data frame starts once it has come: the peer would
// read data after the close.
func TestNoDataFrameAfterTheCloseFrame(t *testing.T) {
	tc, sc, data, result := blockedDataFrame(t)
	closeFrame := []byte{0x88, 0x80 | 2, 0, 0, 0, 0, 0x03, 0xe8}
	closed := coderWrite(tc, closeFrame)
	waitUntil(t, tc, func() bool { return tc.writeEnd != nil }, "the close frame's Write never came")
	assert.ErrorIs(t, tc.writeFrame(data), errCloseWritten, "a data frame behind the close frame")
	sc.results <- nil
	assert.Equal(t, closeFrame, <-sc.writes, "the frame after the data frame")
	select {
	case <-closed:
		t.Fatal("the close frame's Write returned before the frame was written: coder/websocket closes the socket then")
	default:
	}
	sc.results <- nil
	require.NoError(t, <-result)
	require.NoError(t, returnsBefore(t, closed, "the close frame's Write did not return"))
	assert.ErrorIs(t, tc.writeFrame(data), errCloseWritten, "a data frame after the close frame")

	var wire bufferConn
	tc = &trackedConn{rwc: &wire}
	_, err := tc.Write(closeFrame)
	require.NoError(t, err)
	assert.ErrorIs(t, tc.writeFrame(data), errCloseWritten, "a data frame after the close frame")
	assert.Equal(t, closeFrame, wire.Bytes())
}

// failingConn's first Write fails halfway; later ones would succeed.
type failingConn struct {
	bufferConn
	failed bool
}

var errBroken = errors.New("broken")

func (f *failingConn) Write(p []byte) (int, error) {
	if !f.failed {
		f.failed = true
		f.bufferConn.Write(p[:len(p)/2])
		return len(p) / 2, errBroken
	}
	return f.bufferConn.Write(p)
}

// A Write that failed may have cut a frame short: nothing follows it, from
// dualws or coder/websocket, and the failure is recorded.
func TestNoFrameAfterAFailedWrite(t *testing.T) {
	wire := &failingConn{}
	tc := &trackedConn{rwc: wire}
	frame := make([]byte, 10)
	putFrameHeader(frame, true, byte(Binary), 4, 1)
	assert.ErrorIs(t, tc.writeFrame(frame), errBroken)
	assert.True(t, tc.hasFailed(writeFailed))
	_, err := tc.Write([]byte{0x89, 0x80, 0, 0, 0, 0})
	assert.ErrorIs(t, err, errBroken, "coder/websocket's frame after the failure")
	assert.ErrorIs(t, tc.writeFrame(frame), errBroken, "a data frame after the failure")
	assert.Equal(t, frame[:5], wire.Bytes(), "the wire after the cut frame")
}

// A peer's ping during a Send blocked on a peer that does not read: the
// pong is queued behind the frame being written, and the reader goes on
// at once to the message behind the ping. Before, the reader held the
// ping up to 4 s for the Send to reach a fragment's end, and then left it
// unanswered.
func TestPeerPingDuringABlockedSendHoldsNoMessage(t *testing.T) {
	resume := make(chan struct{})
	sawPong := make(chan bool, 1)
	url := hijackServe(t, func(conn net.Conn, rw *bufio.ReadWriter) {
		defer conn.Close()
		n, ok := stallThenWrite(conn, rw, []byte{0x89, 1, 'p', 0x82, 1, 'm'})
		if !ok {
			return
		}
		<-resume
		saw := false
		for {
			if _, err := io.CopyN(io.Discard, rw, n); err != nil {
				break
			}
			op, m, err := readFrameHeader(rw)
			if err != nil || op == 0x8 {
				break
			}
			if n = m; op == 0xA && !saw {
				saw = true
				sawPong <- true
			}
		}
		if !saw {
			sawPong <- false
		}
		rw.Write(closeFrameBytes(1000, nil))
		rw.Flush()
	})
	c, _ := dial(t, url, &Options{PingInterval: -1})
	smallSendBuffer(c)
	sent := make(chan error, 1)
	go func() { sent <- c.Send(context.Background(), Binary, make([]byte, 2<<20)) }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, p, err := c.Receive(ctx)
	require.NoError(t, err, "the message behind the ping waited for the blocked Send")
	assert.Equal(t, "m", string(p))
	close(resume)
	require.NoError(t, <-sent)
	assert.True(t, <-sawPong, "no pong after the blocked Send")
	require.NoError(t, c.Close(StatusNormalClosure, ""))
}
