# Parity suite (scenarios/, wasm/harness/, e2e/, internal/browser/).
#   make demo [RUN=name[,name]]  runs every scenario natively and in headless
#                                Chromium, prints the side-by-side table and
#                                fails unless all are identical
#   make serve [ADDR=host:port]  stages bin/www and serves it with the
#                                scenario server, for a person with a browser
#   make www-harness             stages the harness into bin/www/harness/
#   make test-e2e                the parity suite's tests (part of make test)
.PHONY: demo serve www www-harness test-e2e

ADDR ?= 127.0.0.1:8080
RUN ?=

demo: chromium
	$(GO) run ./e2e/demo $(if $(RUN),-run '$(RUN)')

www: www-harness

www-harness:
	@mkdir -p bin/www/harness
	GOOS=js GOARCH=wasm $(GO) build -o bin/www/harness/harness.wasm ./wasm/harness
	cp wasm/harness/index.html bin/www/harness/index.html

serve: www bin/testserver
	@echo "serving bin/www at http://$(ADDR)/ (harness at http://$(ADDR)/harness/)"
	bin/testserver -addr $(ADDR) -static bin/www

test: test-e2e

test-e2e: chromium
	$(GO) test -race -count=1 ./internal/browser/... ./scenarios/... ./e2e/...
