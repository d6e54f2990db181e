# The state machine (machine.go): its exhaustive test runs with the root
# package; the fuzz target runs FUZZTIME on top of the committed corpus
# (testdata/fuzz/FuzzMachine).
#
# FUZZTIME is a count of executions, not a duration: go1.26's fuzz
# coordinator can fail a duration run with a bare "context deadline
# exceeded" when the deadline lands while a worker is mid-call
# (golang/go#75804, fixed in go1.27). A count has no deadline to race.
# 150000 executions take about 10 s on CI's 2 cores.
.PHONY: fuzz-machine

FUZZTIME ?= 150000x

test: fuzz-machine

fuzz-machine:
	$(GO) test -run '^$$' -fuzz '^FuzzMachine$$' -fuzztime $(FUZZTIME) .
