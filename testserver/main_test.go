package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestMain runs the command itself when the test binary is started as a
// child with TESTSERVER_RUN_MAIN set.
func TestMain(m *testing.M) {
	if os.Getenv("TESTSERVER_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// waitFile waits for path to be non-empty; the bound is a safety net.
func waitFile(t *testing.T, path string, exited <-chan struct{}) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return string(b)
		}
		select {
		case <-exited:
			t.Fatal("testserver exited before writing its address")
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatal("testserver wrote no address")
	return ""
}

func TestCommand(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			static := filepath.Join(dir, "www")
			require.NoError(t, os.Mkdir(static, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(static, "index.html"), []byte("index"), 0o644))
			addrFile := filepath.Join(dir, "addr")

			cmd := exec.Command(os.Args[0], "-addr", "127.0.0.1:0", "-addrfile", addrFile, "-static", static)
			cmd.Env = append(os.Environ(), "TESTSERVER_RUN_MAIN=1")
			var logs strings.Builder
			cmd.Stderr = &logs
			require.NoError(t, cmd.Start())
			exited := make(chan struct{})
			var waitErr error
			go func() { waitErr = cmd.Wait(); close(exited) }()
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
			})

			addr := waitFile(t, addrFile, exited)
			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			resp, err := client.Get("http://" + addr + "/")
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			assert.Equal(t, "index", string(body))

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws/echo?id=cmd", &websocket.DialOptions{HTTPClient: client})
			require.NoError(t, err)
			defer c.CloseNow()
			require.NoError(t, c.Write(ctx, websocket.MessageText, []byte("hi")))
			_, data, err := c.Read(ctx)
			require.NoError(t, err)
			assert.Equal(t, "hi", string(data))

			// A signal ends the command cleanly, open connection or not.
			require.NoError(t, cmd.Process.Signal(sig))
			select {
			case <-exited:
			case <-ctx.Done():
				t.Fatalf("testserver did not exit on %v; log:\n%s", sig, logs.String())
			}
			require.NoError(t, waitErr, "log:\n%s", logs.String())
			assert.Contains(t, logs.String(), "listening on http://"+addr)
			assert.Contains(t, logs.String(), "shutting down")
			_, _, err = c.Read(ctx)
			assert.Error(t, err, "the open connection ends with the server")
		})
	}
}

func TestCommandBadStatic(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-addr", "127.0.0.1:0", "-static", filepath.Join(t.TempDir(), "missing"))
	cmd.Env = append(os.Environ(), "TESTSERVER_RUN_MAIN=1")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.NotZero(t, ee.ExitCode())
	assert.Contains(t, string(out), "not a directory")
}
