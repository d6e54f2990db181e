package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSelectNames(t *testing.T) {
	all := []string{"echo", "server-close", "server-close-utf8", "seed-go-send-close1-5ms", "seed-go-recv-close1-5ms", "seed-nodews-send-close1-5ms"}
	for _, tc := range []struct {
		run  string
		want []string
	}{
		{"", all},
		{"server-close", []string{"server-close"}},
		{"seed", []string{"seed-go-send-close1-5ms", "seed-go-recv-close1-5ms", "seed-nodews-send-close1-5ms"}},
		{"seed*", []string{"seed-go-send-close1-5ms", "seed-go-recv-close1-5ms", "seed-nodews-send-close1-5ms"}},
		{"seed-*-send-*, echo", []string{"echo", "seed-go-send-close1-5ms", "seed-nodews-send-close1-5ms"}},
		{"seed-go", []string{"seed-go-send-close1-5ms", "seed-go-recv-close1-5ms"}},
	} {
		got, err := selectNames(all, tc.run)
		require.NoError(t, err, tc.run)
		assert.Equal(t, tc.want, got, tc.run)
	}
	for _, bad := range []string{"nope", "seed-x", "[", "echo,nope"} {
		_, err := selectNames(all, bad)
		assert.Error(t, err, bad)
	}
}
