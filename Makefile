# dualws: `make demo` runs the parity demo, `make test` runs every test.
SHELL := /bin/bash
GO ?= go
GOROOT := $(shell $(GO) env GOROOT)
WASM_EXEC := $(GOROOT)/lib/wasm/go_js_wasm_exec
NODE_OPTIONS_WS := --experimental-websocket
export CHROMIUM ?= /usr/bin/chromium
# Packages built for the browser; vetted with GOOS=js.
JS_PKGS := . ./scenarios ./wasm/harness ./demo/page ./e2e/dialprobe ./testserver/faults/wasm ./internal/jsfetch
# (bench/ is a module of its own: mk/bench.mk vets it.)

.PHONY: test vet test-native test-js test-js-node test-wasmbrowser chromium browsers bench demo serve build screenshot

test: vet test-native test-js test-js-node test-wasmbrowser

chromium:
	@bash scripts/ensure-chromium.sh

# Chromium, Firefox ESR, WebKitGTK's MiniBrowser and Xvfb (for ENGINES):
# installed with apt-get when missing and running as root.
browsers:
	@ENGINES="$(ENGINES)" bash scripts/ensure-browsers.sh

vet:
	$(GO) vet ./...
	$(GO) vet -tags dualws_bench_nosendcheck .
	GOOS=js GOARCH=wasm $(GO) vet $(JS_PKGS)
	@deps=$$(GOOS=js GOARCH=wasm $(GO) list -deps . | grep -xE 'fmt|net/http|log/slog' || true); \
	if [ -n "$$deps" ]; then echo "the js build of dualws links: $$deps" >&2; exit 1; fi

test-native:
	$(GO) test -race -count=1 .

# The js/wasm tests of the root package run in real browsers through
# cmd/wasmbrowser (a `go test -exec` runner), once per engine in ENGINES,
# against one scenario server (bin/testserver, DUALWS_SERVER). Every engine
# runs even if one fails, its time is printed, and the target fails if any
# failed. ENGINES=chromium (or a comma list) picks engines. When Chromium
# is among them, the tests run once more in a dedicated Web Worker there
# (wasmbrowser -worker), as many programs run Go wasm; `-browser firefox
# -worker` and webkit work too, by hand.
ENGINES ?= chromium,firefox,webkit
# The test gets only GO*, DUALWS_* and TMPDIR from the environment:
# wasm_exec.js refuses more than about 8 KB of argv and environment.
test-js: browsers bin/testserver bin/wasmbrowser
	@set -e; rm -f bin/testserver.addr; bin/testserver -addr 127.0.0.1:0 -addrfile bin/testserver.addr 2>bin/testserver-js.log & pid=$$!; \
	trap "kill $$pid 2>/dev/null" EXIT; \
	for i in $$(seq 100); do [ -s bin/testserver.addr ] && break; sleep 0.1; done; \
	failed=; runs=$$(echo $(ENGINES) | tr , ' '); \
	case " $$runs " in *" chromium "*) runs="$$runs chromium-worker";; esac; \
	for run in $$runs; do \
		e=$${run%-worker}; flags=; name=$$e; \
		if [ "$$run" != "$$e" ]; then flags=-worker; name="$$e (Worker)"; fi; \
		echo "== js tests in $$name"; start=$${EPOCHREALTIME/./}; \
		if DUALWS_SERVER="ws://$$(cat bin/testserver.addr)" GOOS=js GOARCH=wasm \
			$(GO) test -count=1 -exec="$(CURDIR)/bin/wasmbrowser -browser $$e $$flags" .; then r=ok; else r=FAILED; failed="$$failed $$run"; fi; \
		ms=$$(( ($${EPOCHREALTIME/./} - start) / 1000 )); \
		printf '== js tests in %s: %s in %d.%ds\n' "$$name" $$r $$((ms / 1000)) $$((ms % 1000 / 100)); \
	done; \
	if [ -n "$$failed" ]; then echo "js tests failed in:$$failed (server log: bin/testserver-js.log)" >&2; exit 1; fi

# The same tests under Node (go_js_wasm_exec), part of `make test`: Node is
# not a browser (its WebSocket dispatches undici's MessageEvent, and it has
# no x-user-defined decoder, so drain takes the per-message path), but its
# runner reports a deadlock ("all goroutines are asleep") at once with every
# stack, where a browser just waits for -test.timeout. Node 20 needs
# --experimental-websocket.
test-js-node: bin/testserver nodews
	@set -e; rm -f bin/testserver.addr; bin/testserver -addr 127.0.0.1:0 -addrfile bin/testserver.addr & pid=$$!; \
	trap "kill $$pid 2>/dev/null" EXIT; \
	for i in $$(seq 100); do [ -s bin/testserver.addr ] && break; sleep 0.1; done; \
	env -i PATH="$$PATH" HOME="$$HOME" GOCACHE="$$($(GO) env GOCACHE)" GOPATH="$$($(GO) env GOPATH)" \
		NODE_OPTIONS=$(NODE_OPTIONS_WS) DUALWS_SERVER="ws://$$(cat bin/testserver.addr)" \
		GOOS=js GOARCH=wasm $(GO) test -count=1 -exec="$(WASM_EXEC)" .

# The runner itself and the engine launcher: exit status, streamed output
# and coverprofile through each engine, and no process left behind.
test-wasmbrowser:
	@ENGINES=chromium,firefox,webkit bash scripts/ensure-browsers.sh
	$(GO) test -race -count=1 ./cmd/wasmbrowser/... ./internal/engine/...

bin/wasmbrowser: $(wildcard cmd/wasmbrowser/*.go cmd/wasmbrowser/page/* internal/engine/*.go) go.mod go.sum
	$(GO) build -o $@ ./cmd/wasmbrowser

-include mk/*.mk
