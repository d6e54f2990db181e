package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/dualws/dualws"
	"github.com/dualws/dualws/bench/internal/wsserver"
)

// MemResult is what one memclient process measured.
type MemResult struct {
	Lib            string  `json:"lib"`
	Conns          int     `json:"conns"`
	BaseRSS        int64   `json:"baseRSS"`
	RSS            int64   `json:"rss"`
	BaseGoroutines int     `json:"baseGoroutines"`
	Goroutines     int     `json:"goroutines"`
	HeapInuse      uint64  `json:"heapInuse"`
	StackInuse     uint64  `json:"stackInuse"`
	DialSeconds    float64 `json:"dialSeconds"`
}

// RSSPerConn is the resident memory each connection added, in bytes.
func (m MemResult) RSSPerConn() float64 { return float64(m.RSS-m.BaseRSS) / float64(m.Conns) }

// GoroutinesPerConn is the goroutines each connection added.
func (m MemResult) GoroutinesPerConn() float64 {
	return float64(m.Goroutines-m.BaseGoroutines) / float64(m.Conns)
}

// raiseFileLimit lifts the soft open-files limit to the hard one.
func raiseFileLimit(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("setrlimit: %w", err)
		}
	}
	if lim.Cur < need {
		return fmt.Errorf("open-files limit %d is below the %d needed (raise the hard limit: ulimit -Hn)", lim.Cur, need)
	}
	return nil
}

func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// settle collects garbage and returns memory to the OS so RSS reflects
// live data.
func settle() {
	runtime.GC()
	debug.FreeOSMemory()
	time.Sleep(500 * time.Millisecond)
	runtime.GC()
	debug.FreeOSMemory()
}

// memServer is the memserver subcommand: bench/internal/wsserver in its
// own process, so that the memory benchmark measures the clients' RSS
// alone and the load benchmark's server does not share a Go runtime (its
// scheduler and garbage collector) with the client under test.
func memServer(args []string) error {
	fs := flag.NewFlagSet("memserver", flag.ContinueOnError)
	addrFile := fs.String("addrfile", "", "write the bound address here")
	need := fs.Uint64("fds", 12000, "open files needed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := raiseFileLimit(*need); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if err := os.WriteFile(*addrFile, []byte(ln.Addr().String()), 0o644); err != nil {
		return err
	}
	srv := &http.Server{Handler: wsserver.New(nil)}
	go func() {
		// The driver kills this process; stdin closing is the backstop.
		_, _ = bufio.NewReader(os.Stdin).ReadByte()
		os.Exit(0)
	}()
	return srv.Serve(ln)
}

// memClient is the memclient subcommand: dial n idle connections with one
// library and print a MemResult as JSON.
func memClient(args []string) error {
	fs := flag.NewFlagSet("memclient", flag.ContinueOnError)
	lib := fs.String("lib", "dualws", "dualws or coder")
	n := fs.Int("n", 10000, "connections")
	url := fs.String("url", "", "ws:// URL of a /hold endpoint")
	memProfile := fs.String("memprofile", "", "write a heap profile of the held connections to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := raiseFileLimit(uint64(*n) + 500); err != nil {
		return err
	}
	if *memProfile != "" {
		runtime.MemProfileRate = 1024
	}
	ctx := context.Background()
	settle()
	res := MemResult{Lib: *lib, Conns: *n, BaseRSS: rss(), BaseGoroutines: runtime.NumGoroutine()}
	keep := make([]any, *n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	start := time.Now()
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= *n {
					return
				}
				dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				switch *lib {
				case "dualws":
					c, err := dualws.Dial(dctx, *url, nil)
					if err != nil {
						cancel()
						errs <- err
						return
					}
					keep[i] = c
				case "coder":
					c, _, err := websocket.Dial(dctx, *url, &websocket.DialOptions{CompressionMode: websocket.CompressionDisabled})
					if err != nil {
						cancel()
						errs <- err
						return
					}
					// The reader an application needs to see a close.
					go func() {
						for {
							if _, _, err := c.Read(ctx); err != nil {
								return
							}
						}
					}()
					keep[i] = c
				default:
					cancel()
					errs <- fmt.Errorf("unknown library %q", *lib)
					return
				}
				cancel()
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	res.DialSeconds = time.Since(start).Seconds()
	settle()
	res.RSS = rss()
	res.Goroutines = runtime.NumGoroutine()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.HeapInuse = ms.HeapInuse
	res.StackInuse = ms.StackInuse
	if *memProfile != "" {
		if err := writeHeapProfile(*memProfile); err != nil {
			return err
		}
	}
	runtime.KeepAlive(keep)
	return json.NewEncoder(os.Stdout).Encode(res)
}

// startServer starts a memserver process (bench/internal/wsserver with
// the open-files limit raised to fds) and returns its address and a
// function that stops it.
func startServer(ctx context.Context, fds int) (addr string, stop func(), err error) {
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "benchsrv")
	if err != nil {
		return "", nil, err
	}
	addrFile := filepath.Join(dir, "addr")
	srv := exec.CommandContext(ctx, self, "memserver", "-addrfile", addrFile, "-fds", strconv.Itoa(fds))
	srv.Stderr = os.Stderr
	stdin, err := srv.StdinPipe()
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	if err := srv.Start(); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	stop = func() {
		stdin.Close()
		_ = srv.Process.Kill()
		_ = srv.Wait()
		os.RemoveAll(dir)
	}
	var b []byte
	for range 100 {
		if b, _ = os.ReadFile(addrFile); len(b) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(b) == 0 {
		stop()
		return "", nil, errors.New("memserver did not start")
	}
	return string(b), stop, nil
}

// runMem starts a memserver and one memclient per library.
func runMem(ctx context.Context, n int) ([]MemResult, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addr, stop, err := startServer(ctx, n+500)
	if err != nil {
		return nil, err
	}
	defer stop()
	var out []MemResult
	for _, lib := range []string{"dualws", "coder"} {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		cmd := exec.CommandContext(cctx, self, "memclient", "-lib", lib, "-n", strconv.Itoa(n), "-url", "ws://"+addr+"/hold")
		cmd.Stderr = os.Stderr
		b, err := cmd.Output()
		cancel()
		if err != nil {
			return nil, fmt.Errorf("memclient %s: %w", lib, err)
		}
		var r MemResult
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("memclient %s output %q: %w", lib, b, err)
		}
		out = append(out, r)
		resp, err := http.Get("http://" + addr + "/release")
		if err != nil {
			return nil, fmt.Errorf("releasing the held connections: %w", err)
		}
		resp.Body.Close()
	}
	return out, nil
}

// writeHeapProfile writes the in-use heap profile, after a GC, to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
