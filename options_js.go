//go:build js && wasm

package dualws

// In the browser these options have no effect and must be nil; they are
// typed any so that one Options literal compiles on both platforms without
// linking net/http or crypto/tls into the bundle.
type (
	httpClientOption = any
	tlsConfigOption  = any
)

// checkNativeOnlyOptions returns a *UsageError when Options.HTTPClient or
// Options.TLSConfig is set: the browser makes its own connections and
// scripts cannot configure them. Any non-nil value counts, a typed nil
// pointer included. checkPlatformOptions calls it, as it does for Header.
func checkNativeOnlyOptions(httpClient httpClientOption, tlsConfig tlsConfigOption) error {
	switch {
	case httpClient != nil:
		return &UsageError{Op: "dial", Msg: "Options.HTTPClient is native only: the browser makes its own connections"}
	case tlsConfig != nil:
		return &UsageError{Op: "dial", Msg: "Options.TLSConfig is native only: the browser uses its own TLS settings"}
	}
	return nil
}
