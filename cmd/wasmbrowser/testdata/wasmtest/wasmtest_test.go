package wasmtest

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func TestPass(t *testing.T) {}

func TestFail(t *testing.T) { t.Fatal("failing on purpose") }

func TestExit3(t *testing.T) { os.Exit(3) }

func TestPanic(t *testing.T) { panic("boom") }

func TestCover(t *testing.T) {
	if Double(2) != 4 {
		t.Fatal("Double(2) != 4")
	}
}

// TestStream prints, then waits until the runner's caller has seen that
// output and created the file $DUALWS_WB_SEEN: proof that output reaches
// the host while the test still runs. Then it prints 1 MiB to stdout and a
// last line to stderr.
func TestStream(t *testing.T) {
	fmt.Println("out 1")
	fmt.Fprintln(os.Stderr, "err 1")
	fmt.Println("ready")
	seen := os.Getenv("DUALWS_WB_SEEN")
	for i := 0; ; i++ {
		if _, err := os.Stat(seen); err == nil {
			break
		}
		if i == 3000 {
			t.Fatalf("%s never appeared", seen)
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println(strings.Repeat("x", 1<<20))
	fmt.Fprintln(os.Stderr, "err end")
}
