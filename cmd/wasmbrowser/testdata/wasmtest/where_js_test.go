package wasmtest

import (
	"fmt"
	"syscall/js"
	"testing"
)

// TestInWorker passes only in a dedicated Web Worker (wasmbrowser
// -worker): no document, and the global object is a
// DedicatedWorkerGlobalScope. It prints where it runs either way.
func TestInWorker(t *testing.T) {
	g := js.Global()
	noDocument := g.Get("document").IsUndefined()
	scope := g.Get("WorkerGlobalScope")
	inWorker := scope.Type() == js.TypeFunction && g.InstanceOf(scope)
	dedicated := g.Get("DedicatedWorkerGlobalScope")
	isDedicated := dedicated.Type() == js.TypeFunction && g.InstanceOf(dedicated)
	fmt.Printf("where: no document %v, WorkerGlobalScope %v, dedicated %v\n", noDocument, inWorker, isDedicated)
	if !noDocument || !inWorker || !isDedicated {
		t.Fatal("not in a dedicated Worker")
	}
}

// TestInPage passes only in the page itself (no -worker).
func TestInPage(t *testing.T) {
	g := js.Global()
	fmt.Printf("where: document %v\n", !g.Get("document").IsUndefined())
	if g.Get("document").IsUndefined() || !g.Get("WorkerGlobalScope").IsUndefined() {
		t.Fatal("not in a page")
	}
}
