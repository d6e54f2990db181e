//go:build !js

package scenarios

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestRedialScenarios runs the Redial and heartbeat scenarios natively and
// checks what each exists to show. The heartbeat ones need the core's
// Heartbeat.
func TestRedialScenarios(t *testing.T) {
	base := startServer(t)
	run := func(name string) Trace {
		tr := Run(context.Background(), name, base)
		t.Logf("%s:\n  %s", name, strings.Join(tr.Lines(), "\n  "))
		assert.Empty(t, tr.Failure, name)
		return tr
	}
	ops := func(tr Trace) []string {
		var out []string
		for _, o := range tr.Ops {
			if o.Op == "redial" || o.Op == "onredial" {
				l := o.Op + " " + o.Arg + " " + o.Result
				if o.Code != 0 {
					l += " " + itoa(o.Code)
				}
				out = append(out, l)
			}
		}
		return out
	}

	t.Run("drops", func(t *testing.T) {
		tr := run("redial-drops")
		assert.Equal(t, []string{
			"redial iteration 1 dial", "onredial attempt 2 dial",
			"redial iteration 2 dial", "onredial attempt 3 dial",
			"redial iteration 3 ok",
		}, ops(tr))
		assert.Equal(t, 3, tr.Counts["iterations"])
		assert.Equal(t, 3, tr.Counts["server_connections"], "attempts")
		assert.Equal(t, "true", tr.Facts["delays_within_backoff"], tr.Notes["delays_ms"])
		assert.Equal(t, []Message{{Type: "text", Len: 5, Text: "hello"}}, tr.Received)
	})
	t.Run("503", func(t *testing.T) {
		tr := run("redial-503")
		assert.Equal(t, 3, tr.Counts["iterations"])
		assert.Equal(t, "true", tr.Facts["delays_within_backoff"], tr.Notes["delays_ms"])
		assert.Len(t, tr.Received, 1)
	})
	t.Run("1008", func(t *testing.T) {
		tr := run("redial-1008")
		assert.Equal(t, []string{"redial iteration 1 ok"}, ops(tr))
		assert.Equal(t, 0, tr.Counts["onredial_calls"])
		assert.Equal(t, 1, tr.Counts["server_connections"])
		assert.Equal(t, 1008, lastCode(tr))
	})
	t.Run("1012", func(t *testing.T) {
		tr := run("redial-1012")
		assert.Equal(t, []string{"redial iteration 1 ok", "onredial attempt 2 close 1012", "redial iteration 2 ok"}, ops(tr))
		assert.Len(t, tr.Received, 1)
	})
	t.Run("restart", func(t *testing.T) {
		tr := run("redial-restart")
		assert.Equal(t, []string{
			"redial iteration 1 ok", "onredial attempt 2 close 1006",
			"redial iteration 2 dial", "onredial attempt 3 dial",
			"redial iteration 3 ok",
		}, ops(tr))
		assert.Len(t, tr.Received, 2, "the echo before and after the restart")
	})
	t.Run("break", func(t *testing.T) {
		tr := run("redial-break")
		assert.Equal(t, []string{"redial iteration 1 ok"}, ops(tr))
		assert.Equal(t, "OPEN", tr.Facts["state_after_break"])
		assert.Equal(t, 1, tr.Counts["server_connections"], "no dial after the break")
		assert.Len(t, tr.Received, 1)
	})
	t.Run("cancel", func(t *testing.T) {
		tr := run("redial-cancel")
		assert.Equal(t, 2, tr.Counts["iterations"])
		assert.Equal(t, "true", tr.Facts["ended_after_cancel"])
	})
	t.Run("heartbeat-blackhole", func(t *testing.T) {
		tr := run("heartbeat-blackhole")
		if assert.NotEmpty(t, tr.Transitions) {
			last := tr.Transitions[len(tr.Transitions)-1]
			assert.Equal(t, Transition{From: "OPEN", To: "CLOSED", Code: 1006, Reason: "heartbeat timeout"}, Transition{From: last.From, To: last.To, Code: last.Code, Reason: last.Reason, WasClean: last.WasClean, Remote: last.Remote})
		}
		assert.Equal(t, "true", tr.Facts["not_before_interval_plus_timeout"])
	})
	t.Run("heartbeat-pingpong", func(t *testing.T) {
		tr := run("heartbeat-pingpong")
		assert.Equal(t, "OPEN", tr.Facts["state_after_10_intervals"])
		assert.Equal(t, "true", tr.Facts["server_got_heartbeats"])
		assert.Equal(t, []Message{{Type: "text", Len: 5, Text: "hello"}}, tr.Received, "Receive never sees pong")
	})
	t.Run("heartbeat-redial", func(t *testing.T) {
		tr := run("heartbeat-redial")
		assert.Equal(t, []string{"redial iteration 1 ok", "onredial attempt 2 close 1006", "redial iteration 2 ok"}, ops(tr))
		assert.Len(t, tr.Received, 1)
	})
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}
