//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/dualws/dualws"
)

// shapeResult sums a shape's runs.
type shapeResult struct {
	runs, errs, sends int
	failed            [judges]int // runs with a late Send
	worst             [judges]lateness
	diags             []string // of the runs failed by arrival, then of the runs in error
}

func (s *shapeResult) add(run int, r runResult) {
	s.runs++
	s.sends += r.sends
	for j := range judges {
		if r.late[j] > 0 {
			s.failed[j]++
		}
		if r.worst[j].ok {
			s.worst[j].add(r.worst[j].d)
		}
	}
	if r.diag != "" {
		s.diags = append(s.diags, fmt.Sprintf("run %d: %d late Sends; %s", run, r.late[byArrival], r.diag))
	}
	if r.err != "" {
		s.errs++
		s.diags = append(s.diags, fmt.Sprintf("run %d: error: %s", run, r.err))
	}
}

// head prints the table's heading.
func head(w io.Writer) {
	fmt.Fprintf(w, "%24s  failed runs and the worst lateness, judged by\n", "")
	fmt.Fprintf(w, "%-5s %4s %4s %8s", "shape", "runs", "errs", "sends")
	for j := range judges {
		fmt.Fprintf(w, "  %-16s", j)
	}
	fmt.Fprintln(w, "  the server sends")
}

// row prints the shape's line of the table, then up to maxDiags of its
// diagnostics (all when maxDiags < 0).
func (s *shapeResult) row(w io.Writer, sh shape, maxDiags int) {
	fmt.Fprintf(w, "%-5s %4d %4d %8d", sh.key, s.runs, s.errs, s.sends)
	for j := range judges {
		fmt.Fprintf(w, "  %3d %-12s", s.failed[j], s.worst[j])
	}
	fmt.Fprintf(w, "  %s\n", sh.desc)
	for i, d := range s.diags {
		if maxDiags >= 0 && i == maxDiags {
			fmt.Fprintf(w, "      ... %d more (-v shows them)\n", len(s.diags)-i)
			break
		}
		fmt.Fprintf(w, "      %s\n", d)
	}
}

// echoRoundTrips measures a dualws client's Send then Receive against an
// echo server, straight (no relay), for a second per size.
func echoRoundTrips(ctx context.Context, w io.Writer, serverAddr string) error {
	for _, size := range []int{32, 4 << 10, 16 << 10, 64 << 10} {
		c, err := dualws.Dial(ctx, "ws://"+serverAddr+"/echo", &dualws.Options{ReadLimit: -1})
		if err != nil {
			return err
		}
		msg := make([]byte, size)
		var rtts []time.Duration
		for t0 := time.Now(); time.Since(t0) < time.Second; {
			s := time.Now()
			if err := c.Send(ctx, dualws.Binary, msg); err != nil {
				return err
			}
			if _, _, err := c.Receive(ctx); err != nil {
				return err
			}
			rtts = append(rtts, time.Since(s))
		}
		c.Close(dualws.StatusNormalClosure, "")
		slices.Sort(rtts)
		var sum time.Duration
		for _, d := range rtts {
			sum += d
		}
		us := func(d time.Duration) float64 { return float64(d) / 1e3 }
		fmt.Fprintf(w, "echo %6d B: n=%6d mean=%8.1fus p50=%8.1fus p99=%8.1fus max=%8.1fus\n", size, len(rtts),
			us(sum/time.Duration(len(rtts))), us(rtts[len(rtts)/2]), us(rtts[len(rtts)*99/100]), us(rtts[len(rtts)-1]))
	}
	return nil
}
