# Scenario server (testserver/): its tests run in `make test`.
.PHONY: test-testserver

test: test-testserver

test-testserver:
	$(GO) test -race -count=1 ./testserver/...
	@if command -v node >/dev/null; then node --check testserver/nodews/server.js; fi

bin/testserver: $(wildcard testserver/*.go testserver/server/*.go) go.mod go.sum
	$(GO) build -o $@ ./testserver
