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
//
// TODO(lead): settings does not carry Options.HTTPClient and
// Options.TLSConfig yet (options.go). Once it has httpClient and tlsConfig
// fields copied by Options.settings, return them here:
//
//	return nativeOptions{httpClient: s.httpClient, tlsConfig: s.tlsConfig}
func (s *settings) native() nativeOptions { return nativeOptions{} }
