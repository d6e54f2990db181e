# Fault suite (testserver/faults/): a raw-TCP server that misbehaves on
# request, against the native client.
#   make faults [FAULTS=regexp]  runs every case (or those matching), one
#                                line each, ending "faults: N/N native,
#                                M/M browser"; fails unless all pass
#                                (part of make test)
.PHONY: faults

FAULTS ?=

test: faults

faults:
	$(GO) run -race ./testserver/faults/cmd/faults $(if $(FAULTS),-run '$(FAULTS)')
