package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"
)

// observation mirrors the scenario server's Observation.
type observation struct {
	CloseReceived bool
	CloseCode     int
	CloseReason   string
	Pongs         int
	Messages      int
	OpenedAt      int64
	EndedAt       int64
	Ended         string
}

// observed fetches what the scenario server saw on this run's connections.
func (r *run) observed(ctx context.Context) (observation, error) {
	return r.observedAt(ctx, r.cfg.BaseURL)
}

// observedAt fetches what the server at ws:// base saw on this run's
// connections.
func (r *run) observedAt(ctx context.Context, base string) (observation, error) {
	var o observation
	body, err := httpGet(ctx, httpBase(base)+"/observed?id="+url.QueryEscape(r.id))
	if err != nil {
		return o, fmt.Errorf("fetching the server's observation: %w", err)
	}
	if err := json.Unmarshal(body, &o); err != nil {
		return o, fmt.Errorf("decoding the server's observation: %w", err)
	}
	return o, nil
}

// observedUntil polls the server's observation until ok accepts it or wait
// has passed (the server may record a close frame just after the client
// has already reported CLOSED). It returns the last observation; an error
// only when a poll failed or ctx ended. The wait bounds the polling, not a
// poll in flight: a poll that the end of the wait would cut short (a slow
// fetch in the browser) would turn "not seen" into a failure.
func (r *run) observedUntil(ctx context.Context, base string, wait time.Duration, ok func(observation) bool) (observation, error) {
	deadline := time.Now().Add(wait)
	for {
		o, err := r.observedAt(ctx, base)
		if err != nil || ok(o) || !time.Now().Before(deadline) {
			return o, err
		}
		select {
		case <-ctx.Done():
			return o, ctx.Err()
		case <-time.After(min(20*time.Millisecond, time.Until(deadline))):
		}
	}
}
