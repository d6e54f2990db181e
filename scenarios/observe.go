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
}

// observed fetches what the server saw on this run's connections.
func (r *run) observed(ctx context.Context) (observation, error) {
	var o observation
	body, err := httpGet(ctx, r.httpBase()+"/observed?id="+url.QueryEscape(r.id))
	if err != nil {
		return o, fmt.Errorf("fetching the server's observation: %w", err)
	}
	if err := json.Unmarshal(body, &o); err != nil {
		return o, fmt.Errorf("decoding the server's observation: %w", err)
	}
	return o, nil
}

// observedUntil polls the server's observation until ok accepts it or ctx
// ends (the server may record a close frame just after the client has
// already reported CLOSED). It returns the last observation.
func (r *run) observedUntil(ctx context.Context, wait time.Duration, ok func(observation) bool) (observation, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		o, err := r.observed(ctx)
		if err != nil || ok(o) {
			return o, err
		}
		select {
		case <-ctx.Done():
			return o, nil
		case <-time.After(20 * time.Millisecond):
		}
	}
}
