//go:build !linux && !js

package dualws

import "net"

// socketPending is 0 where dualws does not ask the kernel: a Send then
// only waits for a reader that is busy, not for bytes it has not read.
func socketPending(net.Conn) int { return 0 }
