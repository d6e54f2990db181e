//go:build js && wasm

package dualws

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"syscall/js"
	"testing"
)

// Attacks on the direct binary Send (jsDirectSend, sendDirect).

// fillMsg fills p with a message that names itself: an 8-byte header of
// (sender, seq) and then a byte derived from both.
func fillMsg(p []byte, sender, seq int) {
	var h [8]byte
	binary.BigEndian.PutUint32(h[:], uint32(sender))
	binary.BigEndian.PutUint32(h[4:], uint32(seq))
	n := copy(p, h[:])
	b := byte(sender*31 + seq*7 + 1)
	for i := n; i < len(p); i++ {
		p[i] = b
	}
}

// checkMsg reports how got differs from fillMsg(sender, seq) of length n.
func checkMsg(got []byte, sender, seq, n int) error {
	want := make([]byte, n)
	fillMsg(want, sender, seq)
	if len(got) != n {
		return fmt.Errorf("sender %d seq %d: %d bytes, want %d", sender, seq, len(got), n)
	}
	for i := range want {
		if got[i] != want[i] {
			return fmt.Errorf("sender %d seq %d (%d bytes): byte %d is %#x, want %#x", sender, seq, n, i, got[i], want[i])
		}
	}
	return nil
}

// sendPatterns sends per messages of sender's pattern (fillMsg), the
// sizes taken in turn from sizes, each from one slice cleared right after
// its Send; with yield, every fifth Send lets other goroutines run.
func sendPatterns(c *Client, sender, per int, sizes []int, yield bool) error {
	buf := make([]byte, slices.Max(sizes))
	for seq := range per {
		n := sizes[(seq+sender)%len(sizes)]
		fillMsg(buf[:n], sender, seq)
		if err := c.Send(context.Background(), Binary, buf[:n]); err != nil {
			return err
		}
		clear(buf)
		if yield && seq%5 == sender {
			runtime.Gosched()
		}
	}
	return nil
}

var attackSizes = []int{0, 1, 8, 4095, 4096, 4097, 8191, 8192, 8193, 9, 70000, maxSendBuffer - 1, maxSendBuffer, maxSendBuffer + 1, 3 << 20, 100, maxSendBuffer}

// TestJSAttackSizesAndReuse: a binary Send takes its bytes before it
// returns. Every size around the sender's growth steps and maxSendBuffer,
// growing and shrinking, each from a slice overwritten right after Send,
// echoes intact; in both send paths: straight from Go memory (which the
// start-up probe must find in this wasm_exec.js) and copy-then-send.
func TestJSAttackSizesAndReuse(t *testing.T) {
	if !jsDirectSend {
		t.Fatal("the start-up probe found no direct send in this wasm_exec.js")
	}
	defer func(d bool) { jsDirectSend = d }(jsDirectSend)
	for _, direct := range []bool{true, false} {
		jsDirectSend = direct
		c, _ := dialPath(t, "/ws/echo", &Options{ReadLimit: 4 << 20})
		buf := make([]byte, 3<<20+8)
		for seq, n := range attackSizes {
			fillMsg(buf[:n], 0, seq)
			if err := c.Send(context.Background(), Binary, buf[:n]); err != nil {
				t.Fatal(err)
			}
			clear(buf)
		}
		for seq, n := range attackSizes {
			_, got, err := c.Receive(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := checkMsg(got, 0, seq, n); err != nil {
				t.Fatalf("direct %v: %v", direct, err)
			}
		}
		if err := c.Close(StatusNormalClosure, ""); err != nil {
			t.Fatal(err)
		}
	}
}

// TestJSAttackConcurrentSenders: several goroutines Send on one connection,
// each its own pattern from one slice it overwrites right after each Send;
// every echo is intact and each sender's messages come back in its order.
func TestJSAttackConcurrentSenders(t *testing.T) {
	c, _ := dialPath(t, "/ws/echo", &Options{ReadLimit: 4 << 20})
	const senders, per = 4, 30
	sizes := []int{8, 4096, 4097, 8192, 8193, 100, 70000, maxSendBuffer + 1, 12}
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sendPatterns(c, g, per, sizes, true); err != nil {
				errs <- err
			}
		}()
	}
	next := make([]int, senders)
	for range senders * per {
		_, got, err := c.Receive(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(got) < 8 {
			t.Fatalf("a %d-byte echo", len(got))
		}
		g, seq := int(binary.BigEndian.Uint32(got)), int(binary.BigEndian.Uint32(got[4:]))
		if g >= senders || seq != next[g] {
			t.Fatalf("echo from sender %d seq %d; expected seq %d", g, seq, next[min(g, senders-1)])
		}
		next[g]++
		if err := checkMsg(got, g, seq, sizes[(seq+g)%len(sizes)]); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := c.Close(StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
}

// TestJSAttackManyConnections: each of several connections has its own
// sender goroutine and its own sender array; no message crosses over.
func TestJSAttackManyConnections(t *testing.T) {
	const conns, per = 8, 12
	clients := make([]*Client, conns)
	for i := range clients {
		clients[i], _ = dialPath(t, "/ws/echo", &Options{ReadLimit: 4 << 20})
	}
	sizes := []int{8, 5000, 4096, 9000, 200}
	var wg sync.WaitGroup
	errs := make(chan error, 2*conns)
	for i, c := range clients {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := sendPatterns(c, i, per, sizes, false); err != nil {
				errs <- err
			}
		}()
		go func() {
			defer wg.Done()
			for seq := range per {
				_, got, err := c.Receive(context.Background())
				if err == nil {
					err = checkMsg(got, i, seq, sizes[(seq+i)%len(sizes)])
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, c := range clients {
		if err := c.Close(StatusNormalClosure, ""); err != nil {
			t.Fatal(err)
		}
	}
}

// TestJSAttackSendAfterHeapGrowth: the wasm memory grows (its ArrayBuffer
// is replaced) between Sends; slices made before and after the growth,
// including ones at the new top of the heap, still send intact.
func TestJSAttackSendAfterHeapGrowth(t *testing.T) {
	c, _ := dialPath(t, "/ws/echo", &Options{ReadLimit: 4 << 20})
	before := make([]byte, 5000)
	fillMsg(before, 1, 0)
	if err := c.Send(context.Background(), Binary, before); err != nil {
		t.Fatal(err)
	}
	buffer := wasmBuffer()
	mem := buffer.Get("byteLength").Int()
	var hold [][]byte
	for range 6 {
		b := make([]byte, 50<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		hold = append(hold, b)
	}
	if now := wasmBuffer(); now.Equal(buffer) || buffer.Get("byteLength").Int() != 0 {
		t.Fatalf("the wasm memory's ArrayBuffer was not replaced (%d bytes, now %d)", mem, now.Get("byteLength").Int())
	}
	after := make([]byte, maxSendBuffer+5)
	fillMsg(after, 1, 1)
	fillMsg(before, 1, 2)
	tail := hold[len(hold)-1][len(hold[len(hold)-1])-9000:]
	fillMsg(tail, 1, 3)
	for _, p := range [][]byte{after, before, tail} {
		if err := c.Send(context.Background(), Binary, p); err != nil {
			t.Fatal(err)
		}
	}
	runtime.KeepAlive(hold)
	for seq, n := range []int{5000, maxSendBuffer + 5, 5000, 9000} {
		_, got, err := c.Receive(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := checkMsg(got, 1, seq, n); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wasm memory %d MiB -> %d MiB", mem>>20, wasmBuffer().Get("byteLength").Int()>>20)
	if err := c.Close(StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
}

// TestJSAttackSendWhilePeerCloses: the server echoes N messages and
// closes 4000 while the client sends as fast as it can: the first N
// echoes are intact and in order, and once a Send fails every later one
// fails with 4000.
func TestJSAttackSendWhilePeerCloses(t *testing.T) {
	for round := range 3 {
		const n = 20
		c, _ := dialPath(t, fmt.Sprintf("/ws/close?after=%d&code=4000&reason=bye", n), nil)
		buf := make([]byte, 4100)
		failed := false
		accepted := 0
		for seq := range 400 {
			fillMsg(buf[:4096+seq%5], 2, seq)
			err := c.Send(context.Background(), Binary, buf[:4096+seq%5])
			clear(buf)
			switch {
			case err == nil && failed:
				t.Fatalf("round %d: Send %d accepted after a refusal", round, seq)
			case err == nil:
				accepted++
			default:
				failed = true
				if st := closeErr(t, err); st.Code != 4000 {
					t.Fatalf("round %d: Send %d refused with %v", round, seq, st)
				}
			}
			if seq%25 == 0 {
				runtime.Gosched()
			}
		}
		if accepted < n {
			t.Fatalf("round %d: only %d Sends accepted before the server's close after %d", round, accepted, n)
		}
		for seq := range n {
			_, got, err := c.Receive(context.Background())
			if err != nil {
				t.Fatalf("round %d: echo %d: %v", round, seq, err)
			}
			if err := checkMsg(got, 2, seq, 4096+seq%5); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		waitDone(t, c)
	}
}

// wasmBuffer is the wasm memory's current ArrayBuffer, taken from the
// view wasm_exec.js's copyBytesToJS passes to its destination's set.
func wasmBuffer() js.Value {
	got := jsArray.New()
	probe := jsUint8Array.New(1)
	probe.Set("set", bound(got, "push"))
	js.CopyBytesToJS(probe, []byte{1})
	return got.Index(0).Get("buffer")
}
