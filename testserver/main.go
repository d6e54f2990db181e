// Command testserver runs the dualws scenario server (see package
// github.com/dualws/dualws/testserver/server).
//
//	go run ./testserver -addr 127.0.0.1:8080 [-static bin/www] [-addrfile F]
//
// With -addrfile it writes the bound address (host:port) to F once it
// listens, which makes -addr 127.0.0.1:0 usable from scripts. It stops
// cleanly on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/dualws/dualws/testserver/server"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free port)")
	static := flag.String("static", "", "directory served at / (optional)")
	addrFile := flag.String("addrfile", "", "file to write the bound address to (optional)")
	flag.Parse()
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	log.SetPrefix("testserver: ")
	if err := run(*addr, *static, *addrFile); err != nil {
		log.Fatal(err)
	}
}

func run(addr, static, addrFile string) error {
	if static != "" {
		if fi, err := os.Stat(static); err != nil || !fi.IsDir() {
			return fmt.Errorf("-static %s: not a directory", static)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	if addrFile != "" {
		if err := writeAddrFile(addrFile, ln.Addr().String()); err != nil {
			ln.Close()
			return err
		}
	}
	srv := server.New(server.Options{StaticDir: static, Logf: log.Printf})
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("listening on http://%s", ln.Addr())

	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		srv.Close()
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	log.Printf("shutting down")
	srv.Close() // ends scenarios, so that Shutdown need not wait for them
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}

// writeAddrFile writes addr to path atomically, so that a reader polling
// for a non-empty file never sees a partial address.
func writeAddrFile(path, addr string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".addr-*")
	if err != nil {
		return fmt.Errorf("writing address file: %w", err)
	}
	_, werr := tmp.WriteString(addr)
	cerr := tmp.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing address file: %w", werr)
	}
	return nil
}
