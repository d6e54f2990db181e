//go:build js && wasm

package dualws

// In the browser these options have no effect and must be nil; they are
// typed any so that one Options literal compiles on both platforms without
// linking net/http or crypto/tls into the bundle.
type (
	httpClientOption = any
	tlsConfigOption  = any
)
