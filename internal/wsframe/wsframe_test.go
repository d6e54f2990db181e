package wsframe

import (
	"bytes"
	"testing"
)

// RFC 6455 section 1.3's example.
func TestAcceptKey(t *testing.T) {
	if got := AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("AcceptKey = %q", got)
	}
}

// Frames of each length encoding, masked or not, read back the same.
func TestAppendReadHeaderRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 0xFFFF, 0x10000} {
		for _, masked := range []bool{false, true} {
			payload := bytes.Repeat([]byte{'x', 'y', 'z'}, n/3+1)[:n]
			buf := Append(nil, FinBit|OpBinary, masked, payload)
			hdr := 2 // the shortest length encoding, as RFC 6455 5.2 requires
			if n > 0xFFFF {
				hdr = 10
			} else if n > 125 {
				hdr = 4
			}
			if masked {
				hdr += 4
			}
			if len(buf) != hdr+n {
				t.Fatalf("n=%d masked=%v: %d bytes, want a %d-byte header and the payload", n, masked, len(buf), hdr)
			}
			r := bytes.NewReader(buf)
			h, err := ReadHeader(r)
			if err != nil {
				t.Fatal(err)
			}
			if !h.Fin() || h.Opcode() != OpBinary || h.Masked != masked || h.Length != uint64(n) {
				t.Fatalf("n=%d masked=%v: header %+v", n, masked, h)
			}
			got := make([]byte, h.Length)
			if _, err := r.Read(got); err != nil && n > 0 {
				t.Fatal(err)
			}
			if masked {
				if n > 0 && bytes.Equal(got, payload) {
					t.Fatalf("n=%d: the payload went out unmasked", n)
				}
				Unmask(got, h.Mask)
			}
			if !bytes.Equal(got, payload) || r.Len() != 0 {
				t.Fatalf("n=%d masked=%v: payload differs or %d bytes left", n, masked, r.Len())
			}
		}
	}
}

func TestClosePayload(t *testing.T) {
	if p := ClosePayload(1005, "ignored"); len(p) != 0 {
		t.Errorf("1005: %v, want empty", p)
	}
	if p := ClosePayload(4000, "bye"); !bytes.Equal(p, []byte{0x0F, 0xA0, 'b', 'y', 'e'}) {
		t.Errorf("4000 bye: %v", p)
	}
}
