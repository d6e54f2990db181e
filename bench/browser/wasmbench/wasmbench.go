//go:build js && wasm

// Package wasmbench is the in-page side of the browser benchmarks for Go
// WebSocket clients compiled to wasm. A main package adapts its library to
// Conn and calls Serve, which registers globalThis.goBench(spec) returning
// a Promise of the result; the page's plain-JS benchmark (bench.js) takes
// the same spec and returns the same result, so the driver treats every
// implementation alike.
package wasmbench

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"syscall/js"
	"time"
)

// Conn is one connection of the library under test.
type Conn interface {
	Send(ctx context.Context, text bool, p []byte) error
	Receive(ctx context.Context) ([]byte, error)
	// Closed returns a channel closed once the library reports CLOSED.
	// It is called once, after the last Receive.
	Closed() <-chan struct{}
	Close() error
}

// Dialer opens a connection.
type Dialer func(ctx context.Context, url string) (Conn, error)

// Spec is one benchmark run.
type Spec struct {
	Op   string `json:"op"` // recv, send, closeIdle, closeBusy
	URL  string `json:"url"`
	N    int    `json:"n"`
	Size int    `json:"size"`
}

// Result is what a run measured. Times are milliseconds; wall-clock times
// are Unix milliseconds with sub-millisecond precision.
type Result struct {
	Msgs       int       `json:"msgs"`
	Ms         float64   `json:"ms"`
	RTTMs      float64   `json:"rttMs,omitempty"`
	ClosedMs   float64   `json:"closedMs,omitempty"`
	ReqWall    float64   `json:"reqWall,omitempty"`    // wall-clock time of the close request
	ClosedWall float64   `json:"closedWall,omitempty"` // wall-clock time CLOSED was seen
	SendFailMs float64   `json:"sendFailMs,omitempty"`
	Accepted   []float64 `json:"accepted,omitempty"` // wall-clock starts of Sends accepted after the request
	Error      string    `json:"error,omitempty"`
}

var perf js.Value

// wallNow returns the page's clock, performance.timeOrigin +
// performance.now(), in Unix milliseconds: the clock bench.js and the
// page's close-event listener use. Go's wall clock in wasm has millisecond
// resolution.
func wallNow() float64 { return perf.Get("timeOrigin").Float() + perf.Call("now").Float() }

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// Serve registers goBench and blocks forever.
func Serve(dial Dialer) {
	perf = js.Global().Get("performance")
	js.Global().Set("goBench", js.FuncOf(func(_ js.Value, args []js.Value) any {
		var spec Spec
		if err := json.Unmarshal([]byte(args[0].String()), &spec); err != nil {
			return js.Global().Get("Promise").Call("reject", err.Error())
		}
		return promise(func() string {
			res, err := run(dial, spec)
			if err != nil {
				res.Error = err.Error()
			}
			b, _ := json.Marshal(res)
			return string(b)
		})
	}))
	js.Global().Set("goBenchReady", true)
	select {}
}

// promise runs f in a goroutine (a js.Func callback must not block) and
// resolves the returned Promise with its result.
func promise(f func() string) js.Value {
	var executor js.Func
	executor = js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve := args[0]
		go func() {
			resolve.Invoke(f())
			executor.Release()
		}()
		return nil
	})
	return js.Global().Get("Promise").New(executor)
}

func run(dial Dialer, spec Spec) (Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var res Result
	c, err := dial(ctx, spec.URL)
	if err != nil {
		return res, err
	}
	defer c.Close()
	switch spec.Op {
	case "recv":
		// The server pushes once it gets "go".
		start := time.Now()
		if err := c.Send(ctx, true, []byte("go")); err != nil {
			return res, err
		}
		for range spec.N {
			p, err := c.Receive(ctx)
			if err != nil {
				return res, err
			}
			if len(p) != spec.Size {
				return res, errors.New("received " + strconv.Itoa(len(p)) + " bytes, want " + strconv.Itoa(spec.Size))
			}
			res.Msgs++
		}
		res.Ms = ms(time.Since(start))
	case "send":
		msg := make([]byte, spec.Size)
		start := time.Now()
		for range spec.N {
			if err := c.Send(ctx, false, msg); err != nil {
				return res, err
			}
			res.Msgs++
		}
		ack, err := c.Receive(ctx)
		if err != nil {
			return res, err
		}
		res.Ms = ms(time.Since(start))
		if string(ack) != strconv.Itoa(spec.N) {
			return res, errors.New("server counted " + string(ack) + " messages, want " + strconv.Itoa(spec.N))
		}
	case "closeIdle", "closeBusy":
		var lat []time.Duration
		for range 21 {
			t0 := time.Now()
			if err := c.Send(ctx, false, []byte("ping")); err != nil {
				return res, err
			}
			if _, err := c.Receive(ctx); err != nil {
				return res, err
			}
			lat = append(lat, time.Since(t0))
		}
		res.RTTMs = ms(median(lat))
		closed := c.Closed()
		msg := make([]byte, 32)
		req := time.Now()
		res.ReqWall = wallNow()
		if err := c.Send(ctx, true, []byte("close")); err != nil {
			return res, err
		}
		if spec.Op == "closeBusy" {
			for {
				t := wallNow()
				if err := c.Send(ctx, false, msg); err != nil {
					res.SendFailMs = ms(time.Since(req))
					break
				}
				res.Accepted = append(res.Accepted, t)
				if time.Since(req) > 5*time.Second {
					return res, errors.New("send kept succeeding for 5 s after the server closed")
				}
			}
		}
		select {
		case <-closed:
			res.ClosedMs, res.ClosedWall = ms(time.Since(req)), wallNow()
		case <-ctx.Done():
			return res, errors.New("no close reported")
		}
		if spec.Op == "closeIdle" {
			t := wallNow()
			if err := c.Send(ctx, false, msg); err == nil {
				res.Accepted = append(res.Accepted, t)
			}
		}
	default:
		return res, errors.New("unknown op " + strconv.Quote(spec.Op))
	}
	return res, nil
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[len(s)/2]
}
