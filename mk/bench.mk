# Benchmarks (bench/, BENCHMARKS.md).
#   make bench       measures dualws against coder/websocket, gorilla/websocket
#                    and the browser's WebSocket in one run and writes
#                    BENCHMARKS.md (about 6 minutes on 2 cores)
#   make test-bench  runs every benchmark once with tiny sizes, plus a quick
#                    browser and memory smoke run (part of make test)
.PHONY: bench bench-brotli test-bench

bench: chromium bench-brotli
	$(GO) run ./bench/cmd/benchreport -out BENCHMARKS.md

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

test-bench: chromium
	GOOS=js GOARCH=wasm $(GO) vet ./bench/browser/... ./bench/size/...
	$(GO) test -count=1 ./bench/...
	$(GO) test -count=1 -run=NONE -bench=. -benchtime=1x ./bench/...
	@mkdir -p bin
	$(GO) run ./bench/cmd/benchreport -quick -parts browser,mem -out bin/BENCHMARKS-smoke.md
