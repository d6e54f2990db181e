package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// tlsConfig builds the TLS configuration of -cacert and -insecure, or
// returns nil when neither is set (the system's roots, verified).
func tlsConfig(cacert string, insecure bool) (*tls.Config, error) {
	if cacert == "" && !insecure {
		return nil, nil
	}
	cfg := &tls.Config{InsecureSkipVerify: insecure}
	if cacert != "" {
		pem, err := os.ReadFile(cacert)
		if err != nil {
			return nil, fmt.Errorf("-cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-cacert %s: %w", cacert, errNoCertificates)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

var errNoCertificates = errors.New("no PEM certificate in the file")
