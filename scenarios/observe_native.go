//go:build !js

package scenarios

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

func httpGet(ctx context.Context, rawURL string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", rawURL, resp.Status)
	}
	return body, nil
}

// RefusedURL returns a ws:// URL on 127.0.0.1 where nothing listens: a
// port the kernel just handed out and that was closed again.
func RefusedURL() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", fmt.Errorf("closing the free port: %w", err)
	}
	return "ws://" + addr + "/", nil
}

// wallNow is the wall clock in Unix nanoseconds.
func wallNow() int64 { return time.Now().UnixNano() }
