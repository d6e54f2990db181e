# Fault suite (testserver/faults/): a raw-TCP server that misbehaves on
# request; each case's client runs natively and in headless Chromium (a
# GOOS=js program, testserver/faults/wasm).
#   make faults [FAULTS=regexp]  runs every case (or those matching), one
#                                line each with both columns, ending
#                                "faults: N/N native, M/M browser"; fails
#                                unless all pass (part of make test)
.PHONY: faults

FAULTS ?=

test: faults

# The package's go test starts Chromium once (TestBrowserCatchesWrongOutcome).
test-testserver: chromium

faults: chromium
	$(GO) run -race ./testserver/faults/cmd/faults $(if $(FAULTS),-run '$(FAULTS)')
