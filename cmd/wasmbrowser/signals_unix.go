//go:build unix

package main

import "syscall"

func init() { stopSignals = append(stopSignals, syscall.SIGHUP) }
