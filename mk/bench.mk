# Benchmarks (bench/, BENCHMARKS.md).
#   make bench       measures dualws against coder/websocket, gorilla/websocket
#                    and the browser's WebSocket in one run and writes
#                    BENCHMARKS.md (about 10 minutes on an otherwise idle
#                    2-core machine: the load part, 2,000 connections for
#                    30 s per library and churn, about 3; the browser part,
#                    in each engine of ENGINES, about 3)
#   make test-bench  vets and tests the bench module, runs every benchmark once
#                    with tiny sizes, plus a quick browser and memory smoke run
#                    (part of make test)
# bench/ is a nested module (bench/go.mod, replace => ..), so that library
# users do not inherit gorilla/websocket: the root `go vet ./...` and
# `go test ./...` skip it, and every command here runs inside bench/.
.PHONY: bench bench-brotli test-bench

bench: browsers bench-brotli
	cd bench && $(GO) run ./cmd/benchreport -engines $(ENGINES) -out $(CURDIR)/BENCHMARKS.md

# The size table's brotli column needs the brotli command: installed from
# Debian's package when missing and running as root, else left out with a
# note in BENCHMARKS.md.
bench-brotli:
	@if ! command -v brotli >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "Installing Debian's brotli package (for the bundle-size table)..." >&2; \
			export DEBIAN_FRONTEND=noninteractive; \
			apt-get install -y -qq brotli >&2 || { apt-get update -qq >&2 && apt-get install -y -qq brotli >&2; } || \
				echo "could not install brotli: BENCHMARKS.md will have no brotli column" >&2; \
		else \
			echo "brotli is not installed and this is not root: BENCHMARKS.md will have no brotli column" >&2; \
		fi; \
	fi

test: test-bench

test-bench: browsers
	cd bench && $(GO) vet ./...
	cd bench && GOOS=js GOARCH=wasm $(GO) vet ./browser/... ./size/...
	cd bench && $(GO) test -count=1 ./...
	cd bench && $(GO) test -count=1 -run=NONE -bench=. -benchtime=1x ./...
	@mkdir -p bin
	cd bench && $(GO) run ./cmd/benchreport -quick -parts browser,mem,load -engines $(ENGINES) -out $(CURDIR)/bin/BENCHMARKS-smoke.md
