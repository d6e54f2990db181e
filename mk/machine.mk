# The state machine (machine.go): its exhaustive test runs with the root
# package; the fuzz target runs for FUZZTIME on top of the committed corpus
# (testdata/fuzz/FuzzMachine).
.PHONY: fuzz-machine

FUZZTIME ?= 10s

test: fuzz-machine

fuzz-machine:
	$(GO) test -run '^$$' -fuzz '^FuzzMachine$$' -fuzztime $(FUZZTIME) .
