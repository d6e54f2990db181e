//go:build !js

// Package load measures the client libraries (bench/internal/clients) with
// many connections at once, against an echo server that the caller runs
// (bench/internal/wsserver's /echo):
//
//   - Echo: Conns connections each send Size bytes every Interval and read
//     the echo before the next; the result is every round trip's time,
//     from just before Send to Receive's return.
//   - Churn: Workers goroutines each dial, send one message of Size bytes
//     and close with 1000, Cycles times in a row; the result is
//     connections per second over the whole run.
//
// benchreport runs each library in its own process (benchreport
// loadclient), one after the other, so that one library's garbage and
// goroutines do not weigh on another's figures.
package load

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dualws/dualws/bench/internal/clients"
)

// EchoConfig is one echo-load run of one library.
type EchoConfig struct {
	Lib      string        // a name in clients.Names
	URL      string        // ws:// URL of an echo endpoint
	Conns    int           // connections, all open at once
	Size     int           // message size in bytes
	Interval time.Duration // each connection sends once per Interval
	Warmup   time.Duration // round trips in this first stretch are not recorded
	Duration time.Duration // recorded stretch, after Warmup
}

// EchoResult is what one echo-load run measured.
type EchoResult struct {
	Lib   string `json:"lib"`
	Conns int    `json:"conns"`
	// RTTMicros holds every recorded round trip, in microseconds, in no
	// particular order.
	RTTMicros []float32 `json:"rttMicros"`
	// Skipped counts send slots a connection missed because its previous
	// round trip was still running when the slot came.
	Skipped     int     `json:"skipped"`
	DialSeconds float64 `json:"dialSeconds"`
	Seconds     float64 `json:"seconds"` // the recorded stretch, as measured
	// CPUSeconds is the process's user and system CPU time over the
	// recorded stretch (the process runs nothing else).
	CPUSeconds float64 `json:"cpuSeconds"`
}

// ChurnConfig is one churn run of one library.
type ChurnConfig struct {
	Lib     string
	URL     string // ws:// URL of an echo endpoint
	Workers int    // connections in progress at once
	Cycles  int    // dial, send, close cycles per worker, one after the other
	Size    int    // the one message's size
}

// ChurnResult is what one churn run measured.
type ChurnResult struct {
	Lib     string  `json:"lib"`
	Conns   int     `json:"conns"`   // completed cycles
	Seconds float64 `json:"seconds"` // from the first dial to the last close
	// CycleMicros holds every cycle's time (dial, send, close), in
	// microseconds.
	CycleMicros []float32 `json:"cycleMicros"`
	// CPUSeconds is the process's user and system CPU time over the run.
	CPUSeconds float64 `json:"cpuSeconds"`
}

// PerSecond is the completed connections per second.
func (r ChurnResult) PerSecond() float64 {
	if r.Seconds <= 0 {
		return 0
	}
	return float64(r.Conns) / r.Seconds
}

// Percentile returns the p-th percentile (0 < p ≤ 1) of v by the
// nearest-rank method: the smallest value that at least p of the values
// are at or below. v need not be sorted; it is not changed. It returns NaN
// for an empty v.
func Percentile(v []float32, p float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return float64(s[rank(len(s), p)])
}

// Percentiles is Percentile for several p at once, sorting once.
func Percentiles(v []float32, ps ...float64) []float64 {
	out := make([]float64, len(ps))
	if len(v) == 0 {
		for i := range out {
			out[i] = math.NaN()
		}
		return out
	}
	s := slices.Clone(v)
	slices.Sort(s)
	for i, p := range ps {
		out[i] = float64(s[rank(len(s), p)])
	}
	return out
}

// cpuTime returns the process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rank is the 0-based index of the nearest-rank p-th percentile of n
// sorted values.
func rank(n int, p float64) int {
	k := int(math.Ceil(p*float64(n))) - 1
	return min(max(k, 0), n-1)
}

// dialAll opens n connections with at most 32 handshakes in progress.
func dialAll(ctx context.Context, lib, url string, n int) ([]clients.Conn, error) {
	conns := make([]clients.Conn, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range min(32, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				c, err := clients.Dial(dctx, lib, url)
				cancel()
				if err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n)) // stop the others
					return
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	if first != nil {
		closeAll(conns)
		return nil, fmt.Errorf("dialing connection %d of %d: %w", next.Load(), n, first)
	}
	return conns, nil
}

// closeAll closes every non-nil connection with 1000, 32 at a time, and
// returns the first error.
func closeAll(conns []clients.Conn) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range min(32, len(conns)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(conns) {
					return
				}
				if conns[i] == nil {
					continue
				}
				if err := conns[i].Close(); err != nil {
					once.Do(func() { first = err })
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// Echo dials cfg.Conns connections, then has each send cfg.Size bytes
// every cfg.Interval and wait for the echo, for cfg.Warmup plus
// cfg.Duration, and closes them all with 1000. The connections' send
// times are spread evenly over the interval. Any failed send, receive,
// short echo or unclean close fails the run.
func Echo(ctx context.Context, cfg EchoConfig) (EchoResult, error) {
	res := EchoResult{Lib: cfg.Lib, Conns: cfg.Conns}
	if cfg.Conns <= 0 || cfg.Interval <= 0 || cfg.Duration <= 0 {
		return res, errors.New("load: Conns, Interval and Duration must be positive")
	}
	t0 := time.Now()
	conns, err := dialAll(ctx, cfg.Lib, cfg.URL, cfg.Conns)
	if err != nil {
		return res, err
	}
	res.DialSeconds = time.Since(t0).Seconds()

	// Every connection's first slot is within one interval of start; it
	// sends in its slots before end, and only the slots in [record, end)
	// count: each is either a recorded round trip or skipped.
	start := time.Now().Add(50 * time.Millisecond)
	record := start.Add(cfg.Warmup)
	end := record.Add(cfg.Duration)
	perConn := int(cfg.Duration/cfg.Interval) + 2
	rtts := make([][]float32, cfg.Conns)
	skipped := make([]int, cfg.Conns)
	errs := make(chan error, cfg.Conns)
	cpuAtRecord := make(chan time.Duration, 1)
	go func() {
		time.Sleep(time.Until(record))
		cpuAtRecord <- cpuTime()
	}()
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := make([]byte, cfg.Size)
			lat := make([]float32, 0, perConn)
			next := start.Add(cfg.Interval * time.Duration(i) / time.Duration(cfg.Conns))
			for {
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
				if !next.Before(end) {
					break
				}
				slot, ts := next, time.Now()
				if err := c.Send(ctx, msg); err != nil {
					errs <- fmt.Errorf("connection %d: send: %w", i, err)
					return
				}
				p, err := c.Receive(ctx)
				if err != nil {
					errs <- fmt.Errorf("connection %d: receive: %w", i, err)
					return
				}
				rtt := time.Since(ts)
				if len(p) != cfg.Size {
					errs <- fmt.Errorf("connection %d: echo of %d bytes, want %d", i, len(p), cfg.Size)
					return
				}
				if !slot.Before(record) {
					lat = append(lat, float32(rtt.Seconds()*1e6))
				}
				next = next.Add(cfg.Interval)
				// A slot that passed while the round trip ran is
				// skipped, not sent late, so the load stays as asked.
				for now := time.Now(); next.Before(now) && next.Before(end); next = next.Add(cfg.Interval) {
					if !next.Before(record) {
						skipped[i]++
					}
				}
			}
			rtts[i] = lat
		}()
	}
	wg.Wait()
	res.Seconds = time.Since(record).Seconds()
	res.CPUSeconds = (cpuTime() - <-cpuAtRecord).Seconds()
	close(errs)
	closeErr := closeAll(conns)
	if err := <-errs; err != nil {
		return res, err
	}
	if closeErr != nil {
		return res, fmt.Errorf("close: %w", closeErr)
	}
	n := 0
	for i := range rtts {
		n += len(rtts[i])
		res.Skipped += skipped[i]
	}
	res.RTTMicros = make([]float32, 0, n)
	for _, l := range rtts {
		res.RTTMicros = append(res.RTTMicros, l...)
	}
	return res, nil
}

// Churn runs cfg.Workers goroutines that each, cfg.Cycles times in a row,
// dial, send one message of cfg.Size bytes and close with 1000 (Close
// returns once the closing handshake is done). A failed dial, send or
// unclean close fails the run.
func Churn(ctx context.Context, cfg ChurnConfig) (ChurnResult, error) {
	res := ChurnResult{Lib: cfg.Lib}
	if cfg.Workers <= 0 || cfg.Cycles <= 0 {
		return res, errors.New("load: Workers and Cycles must be positive")
	}
	lat := make([][]float32, cfg.Workers)
	errs := make(chan error, cfg.Workers)
	var wg sync.WaitGroup
	start, cpu0 := time.Now(), cpuTime()
	for w := range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := make([]byte, cfg.Size)
			l := make([]float32, 0, cfg.Cycles)
			defer func() { lat[w] = l }()
			for k := range cfg.Cycles {
				t0 := time.Now()
				dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				c, err := clients.Dial(dctx, cfg.Lib, cfg.URL)
				cancel()
				if err != nil {
					errs <- fmt.Errorf("worker %d cycle %d: %w", w, k, err)
					return
				}
				if err := c.Send(ctx, msg); err != nil {
					c.Close()
					errs <- fmt.Errorf("worker %d cycle %d: send: %w", w, k, err)
					return
				}
				if err := c.Close(); err != nil {
					errs <- fmt.Errorf("worker %d cycle %d: close: %w", w, k, err)
					return
				}
				l = append(l, float32(time.Since(t0).Seconds()*1e6))
			}
		}()
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	res.CPUSeconds = (cpuTime() - cpu0).Seconds()
	close(errs)
	for _, l := range lat {
		res.Conns += len(l)
		res.CycleMicros = append(res.CycleMicros, l...)
	}
	if err := <-errs; err != nil {
		return res, err
	}
	return res, nil
}
