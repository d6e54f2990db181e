//go:build !js && !dualws_bench_nosendcheck

package dualws

// sendCloseCheck: a native Send looks for a close that has reached the
// socket (see readiness_native.go). Only the benchmark build tag
// dualws_bench_nosendcheck turns it off.
const sendCloseCheck = true
