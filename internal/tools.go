//go:build tools

// Package internal pins the modules that the root module's tests and the e2e
// suite use, so that go mod tidy keeps them while those packages grow.
// The benchmarks are a module of their own (bench/go.mod).
package internal

import (
	_ "github.com/chromedp/chromedp"
	_ "github.com/stretchr/testify/require"
	_ "go.uber.org/goleak"
)
