//go:build js && wasm

package dualws

// In the browser these options have no effect and must be nil; they are
// typed any so that one Options literal compiles on both platforms without
// linking net/http or crypto/tls into the bundle.
type (
	httpClientOption = any
	tlsConfigOption  = any
)

// nativeOnlyProblem says why Options.HTTPClient or Options.TLSConfig,
// when set, is refused (Dial's *UsageError), or returns "": the browser
// makes its own connections and scripts cannot configure them. Any non-nil
// value counts, a typed nil pointer included. platformProblem calls it,
// as it does for Header.
func nativeOnlyProblem(httpClient httpClientOption, tlsConfig tlsConfigOption) string {
	switch {
	case httpClient != nil:
		return "Options.HTTPClient is native only: the browser makes its own connections"
	case tlsConfig != nil:
		return "Options.TLSConfig is native only: the browser uses its own TLS settings"
	}
	return ""
}
