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
