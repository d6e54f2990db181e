//go:build !js

package dualws

import (
	"crypto/tls"
	"net/http"
)

type (
	httpClientOption = *http.Client
	tlsConfigOption  = *tls.Config
)

// native returns the native-only options of s.
func (s *settings) native() nativeOptions {
	return nativeOptions{httpClient: s.httpClient, tlsConfig: s.tlsConfig}
}
