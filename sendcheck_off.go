//go:build !js && dualws_bench_nosendcheck

package dualws

// sendCloseCheck is off in this build, made with the tag
// dualws_bench_nosendcheck for one purpose: make bench measures what the
// native close check costs a Send against it. Without the check a Send
// can be accepted after the peer's close has reached the socket, which
// breaks dualws's promise; never ship this build.
const sendCloseCheck = false
