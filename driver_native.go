//go:build !js

package dualws

// driver is the transport interface natively: see Client.t.
type driver = transport
