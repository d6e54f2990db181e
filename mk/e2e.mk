# Parity suite (scenarios/, wasm/harness/, e2e/, internal/browser/).
#   make demo [RUN=name[,name]] [REPEAT=n] [ENGINES=chromium,firefox,webkit]
#                                runs every scenario natively and in each
#                                engine of ENGINES (default all three, one
#                                launch each), prints the side-by-side table and
#                                the seed matrix, and fails unless all are
#                                identical. RUN takes names, globs (seed-go-*)
#                                or prefixes (seed); REPEAT runs each n times
#                                (identical only if every run is)
#   make serve [ADDR=host:port]  stages bin/www and serves it with the
#                                scenario server, for a person with a browser
#   make www-harness             stages the harness into bin/www/harness/
#   make test-e2e                the parity suite's tests in every engine of
#                                ENGINES (part of make test), with the
#                                strict-CSP, wss:// and dial-error tests in
#                                Chromium
#   make nodews                  installs the seed matrix's Node ws server
#                                (npm ci in testserver/nodews)
.PHONY: demo serve www www-harness test-e2e nodews

ADDR ?= 127.0.0.1:8080
RUN ?=
REPEAT ?=

demo: browsers nodews
	$(GO) run ./e2e/demo -engines '$(ENGINES)' $(if $(RUN),-run '$(RUN)') $(if $(REPEAT),-repeat $(REPEAT))

# The seed matrix also runs against a server on the npm ws package: its
# node_modules are installed from package-lock.json with npm ci when
# missing; as root, Debian's nodejs and npm are installed first if needed.
nodews: testserver/nodews/node_modules/ws/package.json

testserver/nodews/node_modules/ws/package.json: testserver/nodews/package-lock.json
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "Installing Debian's nodejs and npm packages (for the seed matrix's Node ws server)..." >&2; \
			export DEBIAN_FRONTEND=noninteractive; \
			apt-get install -y -qq nodejs npm >&2 || { apt-get update -qq >&2 && apt-get install -y -qq nodejs npm >&2; }; \
		fi; \
		command -v node >/dev/null && command -v npm >/dev/null || { \
			echo "node and npm are needed by the seed matrix (testserver/nodews): install Debian's nodejs and npm packages (apt-get install nodejs npm)" >&2; exit 1; }; \
	fi
	cd testserver/nodews && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

www: www-harness

www-harness:
	@mkdir -p bin/www/harness
	GOOS=js GOARCH=wasm $(GO) build -o bin/www/harness/harness.wasm ./wasm/harness
	cp wasm/harness/index.html wasm/harness/harness.js bin/www/harness/

serve: www bin/testserver
	@echo "serving bin/www at http://$(ADDR)/ (harness at http://$(ADDR)/harness/)"
	bin/testserver -addr $(ADDR) -static bin/www

test: test-e2e

# -p 1: the seed matrix measures scheduling, so the packages do not run
# in parallel with each other. The parity suite runs once per engine of
# ENGINES (one browser launch each): the first run has every test of ./e2e
# (the Chromium-only ones too), the others only the tests that run in each
# engine. Every engine runs even if one fails, and its time is printed.
E2E_ENGINE_TESTS := ^(TestParity|TestSeedMatrix|TestBrowserUnknownScenario|TestBrowserReportsAHungPage)$$
test-e2e: browsers nodews
	GOOS=js GOARCH=wasm $(GO) vet ./e2e/dialprobe
	$(GO) test -race -count=1 -p 1 ./internal/browser/... ./scenarios/... ./e2e/demo/...
	@failed=; run=; \
	for e in $$(echo $(ENGINES) | tr , ' '); do \
		echo "== parity suite in $$e"; start=$${EPOCHREALTIME/./}; \
		if ENGINES=$$e $(GO) test -race -count=1 -timeout 15m $$run ./e2e; then r=ok; else r=FAILED; failed="$$failed $$e"; fi; \
		ms=$$(( ($${EPOCHREALTIME/./} - start) / 1000 )); \
		printf '== parity suite in %s: %s in %d.%ds\n' $$e $$r $$((ms / 1000)) $$((ms % 1000 / 100)); \
		run="-run $(E2E_ENGINE_TESTS)"; \
	done; \
	if [ -n "$$failed" ]; then echo "parity suite failed in:$$failed" >&2; exit 1; fi
