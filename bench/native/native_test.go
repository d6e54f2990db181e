// Package native benchmarks dualws against raw coder/websocket and
// gorilla/websocket as native clients of one in-process server
// (bench/internal/wsserver), which pushes pre-built frames and drains
// without allocating; BenchmarkServerCeiling measures that server with a
// raw TCP client, to show it is not the bottleneck.
//
// One benchmark op is one message; custom metrics: msg/s, and for the
// echo and close benchmarks latencies in microseconds.
package native

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/dualws/dualws"
	"github.com/dualws/dualws/bench/internal/clients"
	"github.com/dualws/dualws/bench/internal/wsserver"
	"go.uber.org/goleak"
)

var (
	srv   *wsserver.Server
	hsrv  *httptest.Server
	wsURL string
)

func TestMain(m *testing.M) {
	srv = wsserver.New(nil)
	hsrv = httptest.NewServer(srv)
	wsURL = "ws" + strings.TrimPrefix(hsrv.URL, "http")
	code := m.Run()
	hsrv.CloseClientConnections()
	srv.Close()
	hsrv.Close()
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreCurrent()); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

var sizes = []struct {
	name string
	n    int
}{{"32B", 32}, {"64KiB", 64 << 10}}

func dial(b *testing.B, lib, path string) clients.Conn {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := clients.Dial(ctx, lib, wsURL+path)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func closeConn(b *testing.B, c clients.Conn) {
	b.Helper()
	if err := c.Close(); err != nil {
		b.Fatalf("close: %v", err)
	}
}

func reportRate(b *testing.B, n int, d time.Duration) {
	if d > 0 {
		b.ReportMetric(float64(n)/d.Seconds(), "msg/s")
	}
}

// libOrder returns libs, reversed when DUALWS_BENCH_REVERSE is set:
// benchreport runs its native rounds alternately in each order, so that
// no library always runs first.
func libOrder(libs []string) []string {
	if os.Getenv("DUALWS_BENCH_REVERSE") == "" {
		return libs
	}
	r := slices.Clone(libs)
	slices.Reverse(r)
	return r
}

// BenchmarkReceive reads b.N messages that the server pushes as fast as
// the socket takes them.
func BenchmarkReceive(b *testing.B) {
	for _, lib := range libOrder(clients.Names) {
		for _, sz := range sizes {
			b.Run(lib+"/"+sz.name, func(b *testing.B) {
				ctx := context.Background()
				c := dial(b, lib, fmt.Sprintf("/push?n=%d&size=%d", b.N, sz.n))
				b.SetBytes(int64(sz.n))
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				for range b.N {
					p, err := c.Receive(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if len(p) != sz.n {
						b.Fatalf("received %d bytes, want %d", len(p), sz.n)
					}
				}
				reportRate(b, b.N, time.Since(start))
				b.StopTimer()
				closeConn(b, c)
			})
		}
	}
}

// BenchmarkSend writes b.N messages; the server acknowledges the last one,
// so the time includes delivery.
func BenchmarkSend(b *testing.B) {
	for _, lib := range libOrder(clients.Names) {
		for _, sz := range sizes {
			b.Run(lib+"/"+sz.name, func(b *testing.B) {
				ctx := context.Background()
				c := dial(b, lib, fmt.Sprintf("/sink?n=%d", b.N))
				msg := make([]byte, sz.n)
				b.SetBytes(int64(sz.n))
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				for range b.N {
					if err := c.Send(ctx, msg); err != nil {
						b.Fatal(err)
					}
				}
				ack, err := c.Receive(ctx)
				if err != nil {
					b.Fatal(err)
				}
				reportRate(b, b.N, time.Since(start))
				b.StopTimer()
				if string(ack) != strconv.Itoa(b.N) {
					b.Fatalf("server counted %q messages, want %d", ack, b.N)
				}
				closeConn(b, c)
			})
		}
	}
}

// percentile returns the p-th percentile (0..1) of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// BenchmarkEcho measures round trips of 32-byte messages, one at a time.
func BenchmarkEcho(b *testing.B) {
	for _, lib := range libOrder(clients.Names) {
		b.Run(lib, func(b *testing.B) {
			ctx := context.Background()
			c := dial(b, lib, "/echo")
			msg := make([]byte, 32)
			lat := make([]time.Duration, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				t0 := time.Now()
				if err := c.Send(ctx, msg); err != nil {
					b.Fatal(err)
				}
				p, err := c.Receive(ctx)
				if err != nil {
					b.Fatal(err)
				}
				lat[i] = time.Since(t0)
				if len(p) != len(msg) {
					b.Fatalf("echo of %d bytes, want %d", len(p), len(msg))
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(micros(percentile(lat, 0.5)), "p50-µs")
			b.ReportMetric(micros(percentile(lat, 0.99)), "p99-µs")
			closeConn(b, c)
		})
	}
}

// rawConn is a hand-written client used only to measure the server.
type rawConn struct {
	nc net.Conn
	r  *bufio.Reader
}

func rawDial(b *testing.B, path string) *rawConn {
	b.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(hsrv.URL, "http://"))
	if err != nil {
		b.Fatal(err)
	}
	key := make([]byte, 16)
	rand.Read(key)
	req := "GET " + path + " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " +
		base64.StdEncoding.EncodeToString(key) + "\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		b.Fatal(err)
	}
	r := bufio.NewReaderSize(nc, 1<<16)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		b.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		b.Fatalf("handshake status %d", resp.StatusCode)
	}
	return &rawConn{nc: nc, r: r}
}

// maskedFrame builds a client frame (masked with a zero key).
func maskedFrame(op byte, payload []byte) []byte {
	f := wsserver.AppendFrame(nil, op, payload)
	hdr := len(f) - len(payload)
	out := append([]byte{}, f[:hdr]...)
	out[1] |= 0x80
	out = append(out, 0, 0, 0, 0)
	return append(out, payload...)
}

func (c *rawConn) close(b *testing.B) {
	b.Helper()
	if _, err := c.nc.Write(maskedFrame(wsserver.OpClose, []byte{0x03, 0xe8})); err != nil {
		b.Fatal(err)
	}
	// The server echoes the close payload: 0x88 0x02 0x03 0xe8.
	reply := make([]byte, 4)
	if _, err := io.ReadFull(c.r, reply); err != nil {
		b.Fatal(err)
	}
	c.nc.Close()
	if reply[0] != 0x88 {
		b.Fatalf("close reply starts with %#x", reply[0])
	}
}

// BenchmarkServerCeiling drives the push and sink endpoints with a raw TCP
// client that only copies bytes, giving the server's ceiling in msg/s.
func BenchmarkServerCeiling(b *testing.B) {
	for _, sz := range sizes {
		b.Run("push/"+sz.name, func(b *testing.B) {
			c := rawDial(b, fmt.Sprintf("/push?n=%d&size=%d", b.N, sz.n))
			frameLen := int64(len(wsserver.AppendFrame(nil, wsserver.OpBinary, make([]byte, sz.n))))
			b.SetBytes(int64(sz.n))
			b.ResetTimer()
			start := time.Now()
			got, err := io.CopyN(io.Discard, c.r, frameLen*int64(b.N))
			if err != nil || got != frameLen*int64(b.N) {
				b.Fatalf("read %d of %d bytes: %v", got, frameLen*int64(b.N), err)
			}
			reportRate(b, b.N, time.Since(start))
			b.StopTimer()
			c.close(b)
		})
		b.Run("sink/"+sz.name, func(b *testing.B) {
			c := rawDial(b, fmt.Sprintf("/sink?n=%d", b.N))
			frame := maskedFrame(wsserver.OpBinary, make([]byte, sz.n))
			per := max(1, (256<<10)/len(frame))
			batch := make([]byte, 0, per*len(frame))
			for range per {
				batch = append(batch, frame...)
			}
			b.SetBytes(int64(sz.n))
			b.ResetTimer()
			start := time.Now()
			for left := b.N; left > 0; {
				k := min(left, per)
				if _, err := c.nc.Write(batch[:k*len(frame)]); err != nil {
					b.Fatal(err)
				}
				left -= k
			}
			want := wsserver.AppendFrame(nil, wsserver.OpText, []byte(strconv.Itoa(b.N)))
			ack := make([]byte, len(want))
			if _, err := io.ReadFull(c.r, ack); err != nil {
				b.Fatal(err)
			}
			reportRate(b, b.N, time.Since(start))
			b.StopTimer()
			if string(ack) != string(want) {
				b.Fatalf("ack %q, want %q", ack, want)
			}
			c.close(b)
		})
	}
}

var closeID atomic.Int64

// closeRun is one close-detection measurement.
type closeRun struct {
	closed   time.Duration // request → CLOSED (dualws) or the reader's close error (coder)
	sendFail time.Duration // request → first failing Send (busy runs only)
	// failAfterClose is the server's close write → first failing Send:
	// in busy runs the in-process server's own wake-up is part of
	// sendFail, and this leaves it out.
	failAfterClose time.Duration
	seeds          int // Sends accepted that started after the close had arrived
	late           int // data messages the server received after its close
}

// rtt measures the median of a few echo round trips on c.
func rtt(ctx context.Context, c clients.Conn) (time.Duration, error) {
	var lat []time.Duration
	for range 21 {
		t0 := time.Now()
		if err := c.Send(ctx, []byte("ping")); err != nil {
			return 0, err
		}
		if _, err := c.Receive(ctx); err != nil {
			return 0, err
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	return lat[len(lat)/2], nil
}

// measureClose asks the /closer endpoint to close. When busy is false the
// client then waits for the close to be reported and checks that a Send
// fails; when busy is true it sends 32-byte messages back to back until
// Send fails. A Send counts as a seed when it was accepted and started more
// than one round trip after the server wrote its close frame: by then the
// frame had reached the client's socket.
func measureClose(ctx context.Context, lib string, busy bool) (closeRun, error) {
	id := "n" + strconv.FormatInt(closeID.Add(1), 10)
	var run closeRun
	closedAt := make(chan time.Time, 1)
	var c clients.Conn
	var err error
	switch lib {
	case "dualws":
		var dc *dualws.Client
		dc, err = dualws.Dial(ctx, wsURL+"/closer?id="+id, &dualws.Options{PingInterval: -1, OnStateChange: func(ev dualws.StateChange) {
			if ev.To == dualws.Closed {
				closedAt <- ev.At
			}
		}})
		if err == nil {
			c = clients.Wrap(dc)
		}
	default:
		c, err = clients.Dial(ctx, lib, wsURL+"/closer?id="+id)
	}
	if err != nil {
		return run, err
	}
	grace, err := rtt(ctx, c)
	if err != nil {
		return run, err
	}
	var wg sync.WaitGroup
	if cc := clients.Coder(c); cc != nil {
		// Raw coder/websocket with the reader an application needs to
		// see a close, started before the request as dualws's is.
		started := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			close(started)
			for {
				if _, _, err := cc.Read(ctx); err != nil {
					if websocket.CloseStatus(err) != -1 {
						closedAt <- time.Now()
					} else {
						closedAt <- time.Time{}
					}
					return
				}
			}
		}()
		<-started
	}
	msg := make([]byte, 32)
	accepted := make([]time.Time, 0, 1024)
	req := time.Now()
	if err := c.SendText(ctx, "close"); err != nil {
		return run, err
	}
	var failAt time.Time
	if busy {
		for {
			t := time.Now()
			if err := c.Send(ctx, msg); err != nil {
				failAt = time.Now()
				run.sendFail = failAt.Sub(req)
				break
			}
			accepted = append(accepted, t)
			if time.Since(req) > 5*time.Second {
				return run, errors.New("send kept succeeding for 5 s after the server closed")
			}
		}
	}
	select {
	case at := <-closedAt:
		if at.IsZero() {
			return run, errors.New("reader ended without a close frame")
		}
		run.closed = at.Sub(req)
	case <-time.After(10 * time.Second):
		return run, errors.New("no close reported within 10 s")
	}
	if !busy {
		t := time.Now()
		if err := c.Send(ctx, msg); err == nil {
			accepted = append(accepted, t)
		}
	}
	wg.Wait()
	if d := clients.Client(c); d != nil {
		<-d.Done()
	} else {
		clients.Coder(c).CloseNow()
	}
	var info wsserver.CloseInfo
	for deadline := time.Now().Add(5 * time.Second); ; {
		var ok bool
		info, ok = srv.CloseInfo(id)
		if ok && info.Done {
			break
		}
		if time.Now().After(deadline) {
			return run, errors.New("server did not finish the /closer connection")
		}
		time.Sleep(time.Millisecond)
	}
	closeSent := time.Unix(0, info.CloseSentUnixNano)
	if busy {
		run.failAfterClose = failAt.Sub(closeSent)
	}
	arrived := closeSent.Add(grace)
	for _, t := range accepted {
		if t.After(arrived) {
			run.seeds++
		}
	}
	run.late = info.Late
	return run, nil
}

// BenchmarkCloseDetect measures, per op, one connection that the server
// closes on request. idle: the client waits for the close (time to
// CLOSED); busy: the client sends back to back (time to the first failing
// Send, seeds and late messages). Times are medians; seeds are given as median and maximum, late
// messages as maximum.
func BenchmarkCloseDetect(b *testing.B) {
	for _, lib := range libOrder([]string{"dualws", "coder"}) {
		for _, busy := range []bool{false, true} {
			name := lib + "/idle"
			if busy {
				name = lib + "/busy"
			}
			b.Run(name, func(b *testing.B) {
				ctx := context.Background()
				var closed, fail, failAfter []time.Duration
				var seeds []int
				late := 0
				for range b.N {
					run, err := measureClose(ctx, lib, busy)
					if err != nil {
						b.Fatal(err)
					}
					closed = append(closed, run.closed)
					fail = append(fail, run.sendFail)
					failAfter = append(failAfter, run.failAfterClose)
					seeds = append(seeds, run.seeds)
					late = max(late, run.late)
				}
				slices.Sort(closed)
				slices.Sort(fail)
				slices.Sort(failAfter)
				b.ReportMetric(micros(percentile(closed, 0.5)), "closed-µs")
				if busy {
					b.ReportMetric(micros(percentile(fail, 0.5)), "sendfail-µs")
					b.ReportMetric(micros(percentile(failAfter, 0.5)), "closefail-µs")
					b.ReportMetric(float64(late), "late-max")
				}
				slices.Sort(seeds)
				b.ReportMetric(float64(seeds[len(seeds)/2]), "seeds-p50")
				b.ReportMetric(float64(seeds[len(seeds)-1]), "seeds-max")
			})
		}
	}
}
