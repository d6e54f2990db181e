//go:build !js

package dualws

import (
	"math"
	"testing"
	"time"
)

// TestPingQueueOrder: pings come due earliest first, whatever the order
// they were added and removed in; a removed one never comes due, removing
// a connection never queued changes nothing, and an empty queue stops its
// timer. The deadlines are an hour ahead so that the timer does not take
// them during the test.
func TestPingQueueOrder(t *testing.T) {
	var q pingQueue
	base := monoClock() + int64(time.Hour)
	conns := make([]*nativeConn, 8)
	offsets := []int64{50, 10, 70, 30, 20, 80, 60, 40}
	for i := range conns {
		conns[i] = &nativeConn{}
		q.add(conns[i], base+offsets[i])
	}
	if q.remove(&nativeConn{}) {
		t.Fatal("remove of a conn never queued reported it queued")
	}
	if q.armed != base+10 {
		t.Fatalf("timer armed for %d, want the earliest ping %d", q.armed-base, 10)
	}
	for _, i := range []int{3, 5} { // due at 30 and 80
		if !q.remove(conns[i]) {
			t.Fatalf("remove of queued conn %d reported it absent", i)
		}
	}
	if q.remove(conns[3]) {
		t.Fatal("a second remove reported the ping still queued")
	}
	var got []int64
	for _, now := range []int64{15, 45, 100} {
		for _, d := range q.takeDue(base + now) {
			if d.pingSlot != 0 {
				t.Errorf("a taken conn keeps slot %d", d.pingSlot)
			}
			got = append(got, d.pingDue-base)
		}
		if now == 45 && q.armed != base+50 {
			t.Errorf("after taking up to 45, timer armed for %d, want 50", q.armed-base)
		}
	}
	want := []int64{10, 20, 40, 50, 60, 70}
	if len(got) != len(want) {
		t.Fatalf("pings came due at %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("pings came due at %v, want %v", got, want)
		}
	}
	if q.armed != 0 || q.timer.Stop() {
		t.Fatal("the timer is still armed with the queue empty")
	}
}

// TestPingQueueShrinks: after a spike of connections the queue's array
// shrinks with them, and the connections left keep their order and slots.
func TestPingQueueShrinks(t *testing.T) {
	var q pingQueue
	base := monoClock() + int64(time.Hour)
	conns := make([]*nativeConn, 10000)
	for i := range conns {
		conns[i] = &nativeConn{}
		q.add(conns[i], base+int64(i*7919%len(conns)))
	}
	peak := cap(q.conns)
	for _, d := range conns[10:] {
		if !q.remove(d) {
			t.Fatal("remove of a queued conn reported it absent")
		}
	}
	if got := cap(q.conns); got > peak/64 || got < len(q.conns) {
		t.Fatalf("with %d of %d connections left the array holds %d slots", len(q.conns), len(conns), got)
	}
	for i, d := range q.conns {
		if d.pingSlot != int32(i+1) {
			t.Fatalf("conn at index %d has slot %d", i, d.pingSlot)
		}
	}
	var last int64
	for range 10 {
		d := q.takeDue(math.MaxInt64)
		if len(d) == 0 {
			break
		}
		for _, c := range d {
			if c.pingDue < last {
				t.Fatal("pings out of order after the array shrank")
			}
			last = c.pingDue
		}
	}
	if len(q.conns) != 0 || q.armed != 0 {
		t.Fatal("the queue is not empty after taking every ping")
	}
}

// TestPingDeadlineSaturates: an interval near the largest Duration gives
// the latest deadline, not one in the past (which starved the queue).
func TestPingDeadlineSaturates(t *testing.T) {
	now := monoClock()
	if got := pingDeadline(now, math.MaxInt64); got != math.MaxInt64 {
		t.Fatalf("deadline of a huge interval is %d, want the latest", got)
	}
	if got := pingDeadline(now, time.Second); got != now+int64(time.Second) {
		t.Fatalf("deadline of 1 s is %d, want %d", got, now+int64(time.Second))
	}
}
