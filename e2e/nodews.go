package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// NodeWS is a running Node ws server (testserver/nodews/server.js).
type NodeWS struct {
	// BaseURL is its ws:// base URL.
	BaseURL string

	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan struct{}
}

// nodeWSStartTimeout bounds the start of the Node server.
const nodeWSStartTimeout = 20 * time.Second

// StartNodeWS starts testserver/nodews/server.js with node on a free port of
// 127.0.0.1. Its dependencies must be installed (`make nodews` runs npm ci).
// With DUALWS_E2E_SERVERLOG set, it logs one line per connection to stderr.
// Stop ends it; the server also exits by itself when this process dies,
// since its stdin is a pipe from here.
func StartNodeWS(ctx context.Context) (*NodeWS, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, "testserver", "nodews")
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, errors.New("e2e: node is not installed (Debian's nodejs package); the seed matrix needs it for testserver/nodews")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "ws", "package.json")); err != nil {
		return nil, fmt.Errorf("e2e: %s has no node_modules/ws: run `make nodews` (npm ci there)", dir)
	}
	cmd := exec.Command(node, "server.js", "--addr", "127.0.0.1:0")
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	cmd.Env = os.Environ()
	if os.Getenv("DUALWS_E2E_SERVERLOG") != "" {
		cmd.Env = append(cmd.Env, "DUALWS_NODEWS_LOG=1")
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("e2e: node server stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("e2e: node server stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("e2e: starting the node server: %w", err)
	}
	n := &NodeWS{cmd: cmd, stdin: stdin, exited: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			addr <- strings.TrimSpace(sc.Text())
		}
		close(addr)
		// Drain the rest so that the server never blocks on stdout.
		io.Copy(io.Discard, stdout)
		cmd.Wait()
		close(n.exited)
	}()
	t := time.NewTimer(nodeWSStartTimeout)
	defer t.Stop()
	select {
	case a, ok := <-addr:
		if !ok || a == "" {
			n.Stop()
			return nil, errors.New("e2e: the node server exited without printing its address")
		}
		n.BaseURL = "ws://" + a
		return n, nil
	case <-t.C:
		n.Stop()
		return nil, fmt.Errorf("e2e: the node server printed no address within %v", nodeWSStartTimeout)
	case <-ctx.Done():
		n.Stop()
		return nil, ctx.Err()
	}
}

// Stop asks the server to exit (SIGTERM), kills it after 5 s, and waits
// for it.
func (n *NodeWS) Stop() {
	if n == nil || n.cmd.Process == nil {
		return
	}
	n.stdin.Close()
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(5 * time.Second):
		n.cmd.Process.Kill()
		<-n.exited
	}
}
