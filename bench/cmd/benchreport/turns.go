package main

import (
	"context"
	_ "embed"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"

	"strings"
	"time"

	"github.com/dualws/dualws/bench/internal/wsserver"
	"github.com/dualws/dualws/internal/engine"
)

//go:embed turns.html
var turnsPage []byte

// turns runs turns.html in each engine and prints what it measured: the
// time of one event-loop turn queued by MessageChannel, setTimeout(0),
// window.postMessage and scheduler.postTask (where there is one), idle
// and between bursts of 32 B sends. It explains dualws's yield cost per
// engine; it is not part of the report.
//
//	cd bench && go run ./cmd/benchreport turns -engines webkit
func turns(args []string) error {
	fs := flag.NewFlagSet("turns", flag.ContinueOnError)
	enginesFlag := fs.String("engines", "", "comma-separated engines (default all three)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	engines, err := engine.ParseList(*enginesFlag)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	results := make(chan string, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/turns/result", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		select {
		case results <- string(b):
		default:
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write(turnsPage)
	})
	// Cross-origin isolated, as the benchmark page is (see isolate).
	srv := wsserver.New(isolate(mux))
	defer srv.Close()
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	defer hs.Close()
	for _, n := range engines {
		log := engine.NewTailBuffer(8 << 10)
		stop, err := engine.Launch(context.Background(), n, "http://"+ln.Addr().String()+"/", &engine.Options{Log: log})
		if err != nil {
			return err
		}
		select {
		case r := <-results:
			fmt.Printf("%s: %s\n\n", n, strings.ReplaceAll(strings.TrimSpace(r), "\n", "\n  "))
		case <-time.After(3 * time.Minute):
			stop()
			return fmt.Errorf("%s: no result within 3 minutes; the browser's log ends:\n%s", n, log)
		}
		stop()
	}
	return nil
}
