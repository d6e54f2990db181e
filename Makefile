# dualws: `make demo` runs the parity demo, `make test` runs every test.
SHELL := /bin/bash
GO ?= go
GOROOT := $(shell $(GO) env GOROOT)
WASM_EXEC := $(GOROOT)/lib/wasm/go_js_wasm_exec
NODE_OPTIONS_WS := --experimental-websocket
export CHROMIUM ?= /usr/bin/chromium
# Packages built for the browser; vetted with GOOS=js.
JS_PKGS := . ./scenarios ./wasm/harness ./demo/page
# (bench/ is a module of its own: mk/bench.mk vets it.)

.PHONY: test vet test-native test-js chromium bench demo serve build screenshot

test: vet test-native test-js

chromium:
	@bash scripts/ensure-chromium.sh

vet:
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet $(JS_PKGS)
	@deps=$$(GOOS=js GOARCH=wasm $(GO) list -deps . | grep -xE 'fmt|net/http|log/slog' || true); \
	if [ -n "$$deps" ]; then echo "the js build of dualws links: $$deps" >&2; exit 1; fi

test-native:
	$(GO) test -race -count=1 .

# The js/wasm build of the root package runs under Node against a scenario
# server (bin/testserver); the environment is kept small because
# wasm_exec.js refuses more than about 8 KB of argv and environment.
test-js: bin/testserver
	@set -e; rm -f bin/testserver.addr; bin/testserver -addr 127.0.0.1:0 -addrfile bin/testserver.addr & pid=$$!; \
	trap "kill $$pid 2>/dev/null" EXIT; \
	for i in $$(seq 100); do [ -s bin/testserver.addr ] && break; sleep 0.1; done; \
	env -i PATH="$$PATH" HOME="$$HOME" GOCACHE="$$($(GO) env GOCACHE)" GOPATH="$$($(GO) env GOPATH)" \
		NODE_OPTIONS=$(NODE_OPTIONS_WS) DUALWS_SERVER="ws://$$(cat bin/testserver.addr)" \
		GOOS=js GOARCH=wasm $(GO) test -count=1 -exec="$(WASM_EXEC)" .

-include mk/*.mk
