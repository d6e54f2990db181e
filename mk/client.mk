# Command-line client (client/) and the live demo page (demo/).
#   make build       builds the client to bin/dualws
#   make www-demo    stages the demo page into bin/www (index.html, demo.js, demo.wasm)
#   make screenshot  renders the demo in Chromium to docs/screenshot.png
#   make test-client runs the client's and the demo's tests (part of make test)
.PHONY: build build-client www www-demo screenshot test-client

build: build-client

build-client:
	$(GO) build -o bin/dualws ./client

www: www-demo

www-demo:
	@mkdir -p bin/www
	GOOS=js GOARCH=wasm $(GO) build -o bin/www/demo.wasm ./demo/page
	cp demo/page/index.html demo/page/demo.js bin/www/

screenshot: chromium
	$(GO) test -count=1 -run '^TestDemo$$' ./demo -screenshot=$(CURDIR)/docs/screenshot.png

test: test-client

test-client: chromium
	$(GO) test -race -count=1 ./client/... ./demo/...
