package postback

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type report struct {
	Token string `json:"token"`
	N     int    `json:"n"`
}

type reply struct {
	Next int  `json:"next,omitempty"`
	Done bool `json:"done,omitempty"`
}

func newHub(t *testing.T) (*Hub[report, reply], *httptest.Server) {
	h := NewHub(func(r report) string { return r.Token }, reply{Done: true})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv
}

// post is the page's side: it reports and returns the instruction.
func post(t *testing.T, url string, r report) (reply, int) {
	t.Helper()
	b, _ := json.Marshal(r)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Error(err)
		return reply{}, 0
	}
	defer resp.Body.Close()
	var out reply
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Error(err)
		}
	}
	return out, resp.StatusCode
}

// A page reports, is told what to do next, reports the result; Close ends
// it with the done reply.
func TestReportsAndInstructionsAlternate(t *testing.T) {
	h, srv := newHub(t)
	p := h.NewPage()
	pageDone := make(chan []reply)
	go func() {
		var got []reply
		n := 0
		for {
			r, code := post(t, srv.URL, report{Token: p.Token, N: n})
			if code != http.StatusOK {
				t.Errorf("status %d", code)
				break
			}
			got = append(got, r)
			if r.Done {
				break
			}
			n = r.Next * 10
		}
		pageDone <- got
	}()
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		rep, err := p.Await(ctx, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if want := (i - 1) * 10; rep.N != want {
			t.Fatalf("report %d: n = %d, want %d", i, rep.N, want)
		}
		if err := p.Send(ctx, reply{Next: i}, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Await(ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Close()
	got := <-pageDone
	if len(got) != 4 || got[0].Next != 1 || got[2].Next != 3 || !got[3].Done {
		t.Fatalf("the page was told %+v, want next 1, 2, 3, then done", got)
	}
	// A closed page's reports get the done reply at once; it is forgotten.
	if _, code := post(t, srv.URL, report{Token: p.Token}); code != http.StatusForbidden {
		t.Errorf("a closed page's report: status %d, want 403", code)
	}
}

func TestUnknownTokenAndBadReport(t *testing.T) {
	_, srv := newHub(t)
	if _, code := post(t, srv.URL, report{Token: "nope"}); code != http.StatusForbidden {
		t.Errorf("unknown token: status %d, want 403", code)
	}
	resp, err := http.Post(srv.URL, "application/json", bytes.NewReader([]byte("{")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad JSON: status %d, want 400", resp.StatusCode)
	}
	resp, err = http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d, want 405", resp.StatusCode)
	}
}

func TestTimeoutsAndExit(t *testing.T) {
	h, _ := newHub(t)
	p := h.NewPage()
	defer p.Close()
	ctx := context.Background()
	if err := p.Send(ctx, reply{Next: 1}, time.Millisecond); !errors.Is(err, ErrNotWaiting) {
		t.Errorf("Send to a page that does not ask: %v, want ErrNotWaiting", err)
	}
	if _, err := p.Await(ctx, time.Millisecond); !errors.Is(err, ErrNoReport) {
		t.Errorf("Await on a silent page: %v, want ErrNoReport", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.Await(cctx, time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("Await with a cancelled context: %v", err)
	}
	cause := errors.New("signal: killed")
	p.Exited(cause)
	p.Exited(errors.New("second call ignored"))
	var ee *ExitError
	if _, err := p.Await(ctx, time.Minute); !errors.As(err, &ee) || !errors.Is(err, cause) {
		t.Errorf("Await after the browser exited: %v, want an *ExitError with the cause", err)
	}
	if err := p.Send(ctx, reply{}, time.Minute); !errors.As(err, &ee) {
		t.Errorf("Send after the browser exited: %v, want an *ExitError", err)
	}
}
