#!/bin/bash
# Logs: logfmt on stdout, levels, the l2met metrics line, --json summary.
. "$(dirname "$0")/lib.sh"
plan 14
db_create
db_migrate

run_jobrun debug-work --items 2 --item-time 1ms
like "$OUT" '^at=info job=debug-work run=[0-9]+ msg="run started"' "lines are logfmt with job and run"
like "$OUT" 'msg=metrics count#jobrun.debug-work.items_processed=2 .*measure#jobrun.debug-work.duration=[0-9.]+s' "an l2met metrics line ends the run"
is "$ERR" "" "nothing on stderr when stderr is not a terminal"

run_jobrun debug-work --items 2 --item-time 1ms -q
unlike "$OUT" 'at=info' "-q drops info lines"

run_jobrun debug-work --items 1 --item-time 1ms -v
like "$OUT" 'at=' "-v still logs" # debug lines are optional for this job

JOBRUN_LOG_LEVEL=warn run_jobrun debug-work --items 1 --item-time 1ms
unlike "$OUT" 'at=info' "JOBRUN_LOG_LEVEL=warn drops info lines"

run_jobrun --json debug-work --items 3 --item-time 1ms --fail 1
is "$RC" 3 "--json keeps the exit code"
is "$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')" 1 "--json: stdout is exactly one line"
is "$(json_field "$OUT" 'd["status"], d["items_processed"], d["items_failed"]')" "partial 3 1" "the summary object carries status and counters"
like "$ERR" 'msg="run finished"' "--json sends the log lines to stderr"

# On a terminal (script(1) gives jobrun one): readable lines, colors unless
# NO_COLOR, and the progress line on stderr.
tty_run() { script -qec "$*" /dev/null 2>&1 | tr -d '\r'; }
out=$(tty_run "$TEST_TOOL debug-work --items 2 --item-time 1ms")
like "$out" '[0-9]{2}:[0-9]{2}:[0-9]{2} .*info.* run started' "a terminal gets readable lines"
like "$out" $'\033\\[0m' "with colors"
like "$out" 'debug-work: 2/2' "and a progress line"
out=$(NO_COLOR=1 tty_run "$TEST_TOOL debug-work --items 2 --item-time 1ms")
unlike "$out" $'\033\\[0m' "NO_COLOR turns colors off"

done_testing
