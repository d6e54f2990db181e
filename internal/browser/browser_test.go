package browser

import (
	"context"
	"errors"
	"testing"

	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPathMissing(t *testing.T) {
	t.Setenv("CHROMIUM", "/nonexistent/chromium")
	_, err := Path()
	if !errors.Is(err, ErrNoChromium) {
		t.Fatalf("Path() error = %v, want ErrNoChromium", err)
	}
	if _, _, err := Start(context.Background()); !errors.Is(err, ErrNoChromium) {
		t.Fatalf("Start() error = %v, want ErrNoChromium", err)
	}
}

func TestStartEvaluate(t *testing.T) {
	bctx, stop, err := Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	tab, closeTab := NewTab(bctx)
	defer closeTab()
	n, err := chromedp.Run(tab, chromedp.Evaluate[int](`6 * 7`))
	if err != nil {
		t.Fatal(err)
	}
	if n != 42 {
		t.Fatalf("6*7 in the browser = %d", n)
	}
}
