#!/usr/bin/env bash
# Breaks each invariant of the state machine on purpose, one at a time, and
# checks that the machine tests fail; restores machine.go afterwards.
# Usage: bash scripts/break-machine.sh   (prints one line per mutation)
set -euo pipefail
cd "$(dirname "$0")/.."
orig=$(mktemp)
cp machine.go "$orig"
trap 'cp "$orig" machine.go; rm -f "$orig"' EXIT
missed=0
mutate() { # name, old, new
	cp "$orig" machine.go
	python3 - "$2" "$3" <<'PY'
import sys
s = open("machine.go").read()
old, new = sys.argv[1], sys.argv[2]
assert old in s, "mutation target not found: " + old
open("machine.go", "w").write(s.replace(old, new, 1))
PY
	if out=$(go test -count=1 -run 'Machine' . 2>&1); then
		echo "NOT CAUGHT: $1"; missed=$((missed + 1))
	else
		echo "caught: $1: $(grep -m1 -o 'machine_test.go:[0-9]*: .*' <<<"$out" | cut -c1-140)"
	fi
}
mutate "states only move forward, CLOSED once" $'func (m *machine) transportGone(clean bool) {\n\tif m.state == Closed {\n\t\treturn\n\t}' 'func (m *machine) transportGone(clean bool) {'
mutate "Done only with CLOSED" $'\tm.out.armClose = true\n}\n\n// tooBig' $'\tm.out.armClose = true\n\tm.out.final = true\n}\n\n// tooBig'
mutate "CLOSING iff a close frame" $'\tm.transition(Closing, st)\n\tm.out.sendClose = true' $'\tm.transition(Closing, st)'
mutate "Send refused once decided" 'func (m *machine) sendAllowed() bool { return m.state == Open && !m.decided }' 'func (m *machine) sendAllowed() bool { return m.state == Open }'
mutate "nothing queued once decided" $'\tif m.state != Open || m.decided {\n\t\treturn\n\t}\n\tm.heard = true' $'\tif m.state != Open {\n\t\treturn\n\t}\n\tm.heard = true'
mutate "the status never changes once decided" $'\tcase m.timedOut:\n\t\tst = statusCloseTimeout' $'\tcase m.timedOut:\n\t\tst = statusCloseTimeout\n\t\tm.status = st'
mutate "every transition reported once, in order" $'\tm.out.ntrans++\n\tm.state = to' $'\tm.out.ntrans++\n\tm.out.ntrans %= 2\n\tm.state = to'
mutate "a full queue pauses reading" 'm.paused = true
			m.out.pause = true' 'm.paused = false'
mutate "the browser queue overflows with 1008" '		m.closeWith(statusOverflow)' '		_ = statusOverflow'
mutate "a browser script sends only 1000 and 3000-4999" $'\tif m.cfg.scriptCodes {' $'\tif false {'
mutate "after a backlog the next Send looks again" $'\tif backlog {\n\t\treturn -int64(closeCheckEvery)' $'\tif false {\n\t\treturn -int64(closeCheckEvery)'
mutate "a backlog look may wait maxDrain" $'\t\treturn readerCatchUpMax\n\t}\n\treturn maxDrain' $'\t\treturn readerCatchUpMax\n\t}\n\treturn readerCatchUpMax'
mutate "a cut backlog look turns the long wait off" $'\tcase backlog && cut:\n\t\treturn true' $'\tcase backlog && cut:\n\t\treturn drainOff'
mutate "a quiet gap within a stream leaves it off" $'\tcase !backlog && !cut:' $'\tcase !cut:'
mutate "the reader waits only for a close frame of ours" 'func (m *machine) closeFrameRequested() bool { return m.state == Closing && !m.status.Remote }' 'func (m *machine) closeFrameRequested() bool { return m.state == Closing }'
mutate "the first yield after the open event drains" 'func drainsAtOnce(settled, drainOff bool) bool { return !settled && !drainOff }' 'func drainsAtOnce(settled, drainOff bool) bool { return !drainOff }'
[ "$missed" = 0 ] || { echo "$missed mutation(s) not caught" >&2; exit 1; }
