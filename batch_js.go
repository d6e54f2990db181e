//go:build js && wasm

package dualws

import (
	"syscall/js"
)

// A batch of small binary messages crosses from JavaScript to Go as two
// strings, with no js.Value per message. syscall/js registers a finalizer
// for every js.Value that refers to an object, and the runtime files
// finalizers per memory span in a list it walks on each insert: with two
// js.Values per message, profiles of a 32 B receive flood put a fifth of
// the page's time in that walk (runtime.addspecial) in Firefox and WebKit.
//
// The batch is turned into strings by the browser's own functions, bound
// once, so no JavaScript is compiled at run time: the byte lengths, joined
// with commas, and the bytes, each message decoded as x-user-defined (byte
// b < 0x80 becomes U+00b, else U+F700+b) and all joined. Bytes of 0x80 and
// over cost three bytes on the way into Go, so messages of more than
// batchMaxSize bytes, and batches with text, take the per-message path.

// batchMaxSize is the largest message the batch path takes.
const batchMaxSize = 1023

// batchMinCount is the smallest batch the batch path takes: it makes a
// fixed dozen calls, the per-message path three per message.
const batchMinCount = 4

// jsBatch holds the bound functions; ok is false where one is missing (a
// runtime without TextDecoder or x-user-defined, such as Node), and drain
// then takes every message on its own. batchBinary also turns it off for
// good when a batch throws or decodes otherwise (a runtime whose decoder
// differs): that batch, and every later one, takes the per-message path.
var jsBatch = func() (b struct {
	ok                       bool
	protoOf, stringProto     js.Value // Object.getPrototypeOf, String.prototype
	byteLength, arrayOf, pop js.Value // ArrayBuffer's byteLength getter, Array.of, Array.prototype.pop, each callable as f(x)
	decode                   js.Value // decode([buffer]): x-user-defined TextDecoder's decode, applied to an argument list
}) {
	defer func() {
		if recover() != nil { // a constructor or property that is missing or threw
			b.ok = false
		}
	}()
	b.protoOf = jsObject.Get("getPrototypeOf")
	b.stringProto = jsGlobal.Get("String").Get("prototype")
	b.byteLength = jsGetter(jsGlobal.Get("ArrayBuffer").Get("prototype"), "byteLength")
	b.arrayOf = jsArray.Get("of")
	b.pop = jsCall.Call("bind", jsArray.Get("prototype").Get("pop"))
	td := jsGlobal.Get("TextDecoder")
	b.decode = jsFunctionProto.Get("apply").Call("bind", td.Get("prototype").Get("decode"), td.New("x-user-defined"))
	b.ok = true
	return b
}()

// batchBinary returns the messages of datas, an array of n ArrayBuffers
// and strings, when every one is binary and at most max bytes, else nil.
func batchBinary(datas js.Value, n int, max int) (msgs [][]byte) {
	if !jsBatch.ok || n < batchMinCount {
		return nil
	}
	defer func() {
		if recover() != nil {
			jsBatch.ok, msgs = false, nil
		}
	}()
	if datas.Call("map", jsBatch.protoOf).Call("indexOf", jsBatch.stringProto).Int() >= 0 {
		return nil // a text message
	}
	sizes := make([]int, 0, n)
	lens := datas.Call("map", jsBatch.byteLength).Call("join", ",").String()
	for i := 0; i < len(lens); i++ {
		v := 0
		for ; i < len(lens) && lens[i] != ','; i++ {
			v = v*10 + int(lens[i]-'0')
			if v > max {
				return nil
			}
		}
		sizes = append(sizes, v)
	}
	if len(sizes) != n {
		return nil
	}
	msgs = make([][]byte, 0, n)
	for i := 0; i < n; {
		// A chunk of at most batchChunkBytes (or one message) and
		// batchChunkCount messages, so that the strings and the arrays
		// made for it stay small however large the batch.
		j, bytes := i+1, sizes[i]
		for ; j < n && j-i < batchChunkCount && bytes+sizes[j] <= batchChunkBytes; j++ {
			bytes += sizes[j]
		}
		chunk := datas
		if i > 0 || j < n {
			chunk = datas.Call("slice", i, j)
		}
		part := decodeChunk(chunk, sizes[i:j])
		if part == nil {
			jsBatch.ok = false // the decoder is not x-user-defined as the batch path reads it
			return nil
		}
		msgs = append(msgs, part...)
		i = j
	}
	return msgs
}

// batchChunkBytes bounds the message bytes one pair of strings carries:
// a string holds up to three bytes per message byte, so 256 KiB of
// messages make at most 768 KiB of string on each side.
const batchChunkBytes = 256 << 10

// batchChunkCount bounds the messages of a chunk, empty ones included.
const batchChunkCount = 8192

// decodeChunk returns the messages of chunk, an array of ArrayBuffers of
// the given sizes, through one string, or nil if it does not match them.
// Each [buffer, index, array] that Array.of makes of an element loses its
// last two elements, and decode is applied to what is left, [buffer].
func decodeChunk(chunk js.Value, sizes []int) [][]byte {
	args := chunk.Call("map", jsBatch.arrayOf)
	args.Call("map", jsBatch.pop)
	args.Call("map", jsBatch.pop)
	return splitUserDefined(args.Call("map", jsBatch.decode).Call("join", "").String(), sizes)
}

// splitUserDefined decodes s, UTF-8 of x-user-defined text, into one
// message per size. It returns nil if s does not match the sizes.
func splitUserDefined(s string, sizes []int) [][]byte {
	msgs := make([][]byte, len(sizes))
	j := 0
	for i, size := range sizes {
		p := make([]byte, size)
		for k := range p {
			if j >= len(s) {
				return nil
			}
			c := s[j]
			if c < 0x80 {
				p[k] = c
				j++
				continue
			}
			// U+F780–U+F7FF: EF 9E 80 – EF 9F BF.
			if j+2 >= len(s) || c != 0xEF || s[j+1]&^1 != 0x9E || s[j+2]&0xC0 != 0x80 {
				return nil
			}
			p[k] = 0x80 | (s[j+1]&1)<<6 | s[j+2]&0x3F
			j += 3
		}
		msgs[i] = p
	}
	if j != len(s) {
		return nil
	}
	return msgs
}
