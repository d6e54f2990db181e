package main

import (
	"context"
	"fmt"

	"github.com/dualws/dualws/internal/engine"
)

// engineProfiler profiles one throughput case in Firefox or WebKit (for
// Chromium, startProfile/stopProfile use DevTools): start just before the
// case, stop just after it, which prints the summary.
type engineProfiler interface {
	start(ctx context.Context, impl string) error
	stop(ctx context.Context, name string, logf func(string, ...any)) error
	close()
}

// newEngineProfiler sets up o for profiling in engine n and returns the
// profiler; host is the page's host:port.
func newEngineProfiler(n engine.Name, host string, o *engine.Options) (engineProfiler, error) {
	switch n {
	case engine.Firefox:
		return newFirefoxProfiler(host, o)
	case engine.WebKit:
		return newWebKitProfiler(o)
	}
	return nil, fmt.Errorf("no profiler for %s", n)
}

// profileStart starts profiling the page's next case.
func (p *benchPage) profileStart(ctx context.Context, impl string) error {
	if p.tab != nil {
		return startProfile(p.tab)
	}
	return p.prof.start(ctx, impl)
}

// profileStop stops profiling and prints the profile's summary.
func (p *benchPage) profileStop(ctx context.Context, name string, logf func(string, ...any)) error {
	if p.tab != nil {
		return stopProfile(p.tab, name, logf)
	}
	if err := p.prof.stop(ctx, name, logf); err != nil {
		return fmt.Errorf("%w; the browser's log ends:\n%s", err, p.log)
	}
	return nil
}
