# Fault suite (testserver/faults/): a raw-TCP server that misbehaves on
# request; each case's client runs natively and in headless Chromium (a
# GOOS=js program, testserver/faults/wasm), then in each engine of
# FAULT_ENGINES (launched by internal/engine; the page posts its results
# back), with the differences each engine shows scripts written down per
# case (testserver/faults/engine_cases.go).
#   make faults [FAULTS=regexp] [FAULT_ENGINES=firefox,webkit]
#                                runs every case (or those matching), one
#                                line each, ending "faults: N/N native, M/M
#                                browser" and "faults: K/K <engine>" per
#                                engine; fails unless all pass (part of
#                                make test); every engine runs even if one
#                                fails
.PHONY: faults

FAULTS ?=
FAULT_ENGINES ?= firefox,webkit

test: faults

# The package's go test starts Chromium once (TestBrowserCatchesWrongOutcome).
test-testserver: browsers

faults: browsers
	$(GO) build -race -o bin/faults ./testserver/faults/cmd/faults
	@failed=; \
	bin/faults $(if $(FAULTS),-run '$(FAULTS)') || failed=" native/chromium"; \
	for e in $$(echo $(FAULT_ENGINES) | tr , ' '); do \
		echo "== fault suite in $$e"; \
		bin/faults -browser-only -browser $$e $(if $(FAULTS),-run '$(FAULTS)') || failed="$$failed $$e"; \
	done; \
	if [ -n "$$failed" ]; then echo "fault suite failed in:$$failed" >&2; exit 1; fi
