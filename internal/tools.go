//go:build tools

// Package internal pins the modules that tests, benchmarks and the e2e
// suite use, so that go mod tidy keeps them while those packages grow.
package internal

import (
	_ "github.com/chromedp/chromedp"
	_ "github.com/gorilla/websocket"
	_ "github.com/stretchr/testify/require"
	_ "go.uber.org/goleak"
)
