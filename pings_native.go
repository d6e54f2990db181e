//go:build !js

package dualws

import (
	"container/heap"
	"math"
	"sync"
	"time"
)

// pingQueue holds the next keepalive ping of every native connection in
// the process behind one timer, earliest first. A timer per connection was
// an idle connection's largest object of its own after coder/websocket's
// buffers (about 0.14 KiB with its callback); here a connection holds a
// deadline and an index. Dial, each answered ping and each teardown take
// the queue's lock once.
type pingQueue struct {
	mu    sync.Mutex
	conns pingHeap
	timer *time.Timer
	armed int64 // when timer fires (monoClock), 0 when it is stopped
}

// keepalives is the queue of every native connection.
var keepalives pingQueue

var monoEpoch = time.Now()

// monoClock is monotonic nanoseconds since the package was loaded.
func monoClock() int64 { return int64(time.Since(monoEpoch)) }

// pingDeadline is now plus interval on monoClock, saturating: an interval
// near the largest Duration means never, not a deadline in the past.
func pingDeadline(now int64, interval time.Duration) int64 {
	if int64(interval) > math.MaxInt64-now {
		return math.MaxInt64
	}
	return now + int64(interval)
}

// add schedules d's next ping at due (monoClock). d must not be queued.
func (q *pingQueue) add(d *nativeConn, due int64) {
	q.mu.Lock()
	d.pingDue = due
	heap.Push(&q.conns, d)
	q.rearm()
	q.mu.Unlock()
}

// remove takes d's ping out of the queue and reports whether it was there;
// false means it is not scheduled or has been taken by the timer.
func (q *pingQueue) remove(d *nativeConn) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if d.pingSlot == 0 {
		return false
	}
	heap.Remove(&q.conns, int(d.pingSlot-1))
	q.rearm()
	return true
}

// takeDue removes and returns the connections whose ping is due at now.
func (q *pingQueue) takeDue(now int64) []*nativeConn {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.armed <= now {
		q.armed = 0 // that timer has fired, or fires for nothing: rearm sets it anew
	}
	var due []*nativeConn
	for len(q.conns) > 0 && q.conns[0].pingDue <= now {
		due = append(due, heap.Pop(&q.conns).(*nativeConn))
	}
	q.rearm()
	return due
}

// rearm sets the timer for the earliest ping, or stops it when none is
// left; under mu. A timer set for a ping since removed fires for nothing.
func (q *pingQueue) rearm() {
	if len(q.conns) == 0 {
		if q.timer != nil {
			q.timer.Stop()
		}
		q.armed = 0
		return
	}
	next := q.conns[0].pingDue
	if q.armed != 0 && q.armed <= next {
		return
	}
	q.armed = next
	wait := time.Duration(next - monoClock())
	if q.timer == nil {
		q.timer = time.AfterFunc(wait, q.fire)
	} else {
		q.timer.Reset(wait)
	}
}

// fire starts the pings that are due, the last on the timer's goroutine.
func (q *pingQueue) fire() {
	due := q.takeDue(monoClock())
	for i, d := range due {
		if i == len(due)-1 {
			d.ping()
		} else {
			go d.ping()
		}
	}
}

// pingHeap orders connections by pingDue for container/heap and keeps
// each one's pingSlot: its index plus one, so that 0, a new nativeConn's,
// means out of the heap.
type pingHeap []*nativeConn

func (h pingHeap) Len() int           { return len(h) }
func (h pingHeap) Less(i, j int) bool { return h[i].pingDue < h[j].pingDue }
func (h pingHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].pingSlot, h[j].pingSlot = int32(i+1), int32(j+1)
}
func (h *pingHeap) Push(x any) {
	d := x.(*nativeConn)
	d.pingSlot = int32(len(*h) + 1)
	*h = append(*h, d)
}

// Pop takes the last connection out. Once fewer than a quarter of the
// slots are used, it moves the heap to an array of half the size, so that
// a spike of connections does not hold its array for the process's life;
// the order, and so every pingSlot, stays as it was.
func (h *pingHeap) Pop() any {
	old := *h
	n := len(old) - 1
	d := old[n]
	old[n] = nil
	*h = old[:n]
	if c := cap(old); c > minPingHeapCap && n < c/4 {
		*h = append(make(pingHeap, 0, c/2), *h...)
	}
	d.pingSlot = 0
	return d
}

// minPingHeapCap is the capacity below which the heap's array is kept.
const minPingHeapCap = 64
