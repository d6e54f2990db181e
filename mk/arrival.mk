# Close-arrival check (bench/arrival): a server behind a relay, both in a
# child process, sends each traffic shape then its close frame while a
# dualws client receives and Sends every 100 µs; an accepted Send that
# started 3 ms or more after the close was in the client's socket, or in
# the relay's kernel behind the client's closed window, fails it. The
# table also judges by the close's arrival at the relay (see the command's
# doc comment) and by the server's write stamp.
#   make arrival [ARRIVAL_RUNS=n]  runs every shape ARRIVAL_RUNS times
#                                  (default 10)
# Timing-sensitive: not part of make test; run it on an otherwise idle
# machine (under go run -race, or with another load, the relay and the
# client starve and shapes f and f2 fail).
.PHONY: arrival

ARRIVAL_RUNS ?= 10

arrival:
	cd bench && $(GO) run ./arrival -runs $(ARRIVAL_RUNS)
