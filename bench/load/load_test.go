//go:build !js

package load

import (
	"context"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dualws/dualws/bench/internal/clients"
	"github.com/dualws/dualws/bench/internal/wsserver"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPercentileNearestRank(t *testing.T) {
	// 1..100 shuffled: the p-th percentile by nearest rank is 100·p.
	v := make([]float32, 100)
	for i := range v {
		v[i] = float32((i*37)%100 + 1)
	}
	orig := append([]float32(nil), v...)
	for _, c := range []struct{ p, want float64 }{{0.5, 50}, {0.99, 99}, {0.999, 100}, {1, 100}, {0.001, 1}} {
		if got := Percentile(v, c.p); got != c.want {
			t.Errorf("Percentile(1..100, %v) = %v, want %v", c.p, got, c.want)
		}
	}
	if got := Percentiles(v, 0.5, 0.99); got[0] != 50 || got[1] != 99 {
		t.Errorf("Percentiles(1..100, 0.5, 0.99) = %v, want [50 99]", got)
	}
	for i := range v {
		if v[i] != orig[i] {
			t.Fatal("Percentile reordered its input")
		}
	}
	// A single high value among 100 is the p99 of none but the max.
	w := make([]float32, 100)
	w[99] = 1000
	if got := Percentile(w, 0.99); got != 0 {
		t.Errorf("p99 with one outlier in 100 = %v, want 0", got)
	}
	if !math.IsNaN(Percentile(nil, 0.5)) {
		t.Error("the percentile of nothing should be NaN")
	}
}

func server(t *testing.T) string {
	t.Helper()
	srv := wsserver.New(nil)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.CloseClientConnections()
		srv.Close()
		hs.Close()
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http")
}

func TestEchoEveryLibrary(t *testing.T) {
	url := server(t)
	for _, lib := range clients.Names {
		t.Run(lib, func(t *testing.T) {
			cfg := EchoConfig{Lib: lib, URL: url + "/echo", Conns: 8, Size: 128, Interval: 20 * time.Millisecond, Warmup: 100 * time.Millisecond, Duration: 100 * time.Millisecond}
			r, err := Echo(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			// Each connection has 5 slots in the warm-up and 5 in the
			// recorded stretch; a recorded slot is either a round trip or
			// counted as skipped, a warm-up slot neither.
			if got := len(r.RTTMicros) + r.Skipped; got != 8*5 {
				t.Errorf("%d round trips + %d skipped, want 40", len(r.RTTMicros), r.Skipped)
			}
			if r.CPUSeconds <= 0 {
				t.Errorf("CPU time %v s over the recorded stretch", r.CPUSeconds)
			}
			for _, v := range r.RTTMicros {
				if !(v > 0) {
					t.Fatalf("round trip of %v µs", v)
				}
			}
		})
	}
}

func TestEchoFailsOnABadURL(t *testing.T) {
	url := server(t)
	_, err := Echo(context.Background(), EchoConfig{Lib: "dualws", URL: url + "/nothing-here", Conns: 2, Size: 1, Interval: time.Millisecond, Duration: time.Millisecond})
	if err == nil {
		t.Fatal("Echo against a path that is not a WebSocket endpoint succeeded")
	}
}

func TestChurnEveryLibrary(t *testing.T) {
	url := server(t)
	for _, lib := range clients.Names {
		t.Run(lib, func(t *testing.T) {
			r, err := Churn(context.Background(), ChurnConfig{Lib: lib, URL: url + "/echo", Workers: 3, Cycles: 4, Size: 16})
			if err != nil {
				t.Fatal(err)
			}
			if r.Conns != 12 || len(r.CycleMicros) != 12 {
				t.Errorf("%d connections, %d cycle times, want 12", r.Conns, len(r.CycleMicros))
			}
			if r.PerSecond() <= 0 {
				t.Errorf("PerSecond = %v", r.PerSecond())
			}
		})
	}
}

func TestChurnFailsOnADialError(t *testing.T) {
	url := server(t)
	// /closeinfo is plain HTTP (404 for an unknown id): every dial fails.
	_, err := Churn(context.Background(), ChurnConfig{Lib: "coder", URL: url + "/closeinfo?id=x", Workers: 1, Cycles: 1, Size: 1})
	if err == nil {
		t.Fatal("Churn with a failing handshake succeeded")
	}
}
