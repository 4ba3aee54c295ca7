#!/bin/bash
# A ping endpoint that hangs or answers 500 never changes a run's exit code
# or loses its work: the failure is a warning naming the bound it hit, and an
# entry in the run summary. The end ping is sent after the run record is
# finished, so a hanging one adds nothing to the recorded run; a hanging
# start ping is cut at JOBRUN_NOTIFY_TIMEOUT (default 5 s), which bounds all
# attempts together. A ping that fails once is retried, at most twice.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-notify.sh"
plan 17
db_create
db_migrate
hook_start

KEY=9d2b7e4f-1c3a-4f6e-8a5b-0e7d9c2f4a61
T_SECRETS="$T_SECRETS $KEY"
export JOBRUN_PING_URL="$HOOK_URL/$KEY{event}" JOBRUN_PING_EVENTS="start=/start,success=,failure=/fail"
# note <run id> <event>: "ok attempts error" of that ping in the run summary.
note() {
	sql "SELECT concat_ws(' ', n->>'ok', n->>'attempts', n->>'error') FROM jobrun.runs,
		jsonb_array_elements(summary->'notifications') n WHERE id = $1 AND n->>'event' = '$2'"
}

# The end ping hangs: the record is final before it is sent, the exit code
# is the run's.
hook_fault "{\"kind\": \"timeout\", \"match\": \"/$KEY/fail\", \"seconds\": 60, \"count\": 10}"
bg_jobrun debug-work --items 2 --item-time 1ms --fail 1
pid=$BG_PID
check "the failure ping reached the hanging endpoint" wait_until 30 grep -q "/$KEY/fail" "$HOOK_REC"
run_id=$(sql "SELECT max(id) FROM jobrun.runs")
is "$(sql "SELECT status, items_processed FROM jobrun.runs WHERE id = $run_id")" "partial|2" \
	"while the ping hangs, the run record is already finished with its work"
check "the process is still sending (the ping hangs)" kill -0 "$pid"
wait_exit "$pid"
is "$WAIT_RC" 3 "the exit code is the run's (3), not the ping's"
like "$(cat "$BG_OUT")" 'msg="notification failed" signal=ping event=failure host=127\.0\.0\.1 error="ping 127\.0\.0\.1: 1 attempt within the (5\.0|4\.9)s budget, the last: .*timed out after [45][0-9]{3} milliseconds' \
	"the warning says the ping timed out at the default 5 s budget"
is "$(hook_lines 'r["path"]' | grep -c "/fail$")" 1 "one attempt used the whole budget: no retry past it"
like "$(note "$run_id" failure)" '^false 1 .*timed out after' "the run summary records the failed ping"
unlike "$(cat "$BG_OUT")" "$KEY" "the warning does not show the ping URL's key"

# The start ping hangs: bounded inside the run, the work still done and the
# success ping still sent.
hook_clear
hook_fault "{\"kind\": \"timeout\", \"match\": \"/$KEY/start\", \"seconds\": 60, \"count\": 10}"
JOBRUN_NOTIFY_TIMEOUT=2s run_jobrun --json debug-work --items 2 --item-time 1ms
is "$RC" 0 "a hanging start ping: exit 0"
is "$(jf 'd["items_succeeded"]')" 2 "the work is done"
like "$(jf 'd["summary"]["notifications"][0]["error"]')" '1 attempt within the (2\.0|1\.9)s budget, the last: .*timed out after' \
	"the start ping gave up at the budget (JOBRUN_NOTIFY_TIMEOUT=2s)"
is "$(hook_lines 'r["path"]' | tr '\n' ' ')" "/$KEY/start /$KEY " "one start attempt, then the success ping"

# 500 on every attempt: three attempts, a warning, the exit code unchanged.
hook_clear
hook_fault "{\"kind\": \"status\", \"status\": 500, \"match\": \"/$KEY\", \"count\": 10}"
run_jobrun --json debug-work --items 1 --item-time 1ms
is "$RC" 0 "500 from the ping endpoint: still exit 0"
like "$ERR" 'msg="notification failed" signal=ping event=success host=127\.0\.0\.1 error="ping 127\.0\.0\.1: 3 attempts within the (5\.0|4\.9)s budget, the last: HTTP 500"' \
	"the warning says it gave up after 3 attempts on HTTP 500"
like "$(note "$(jf 'd["run_id"]')" success)" '^false 3 ping 127\.0\.0\.1: 3 attempts within the (5\.0|4\.9)s budget, the last: HTTP 500$' \
	"the run summary says so too"

# One 500, then OK: retried.
hook_clear
hook_fault "{\"kind\": \"status\", \"status\": 500, \"match\": \"/$KEY\", \"count\": 1}"
run_jobrun --json debug-work --items 1 --item-time 1ms
is "$(note "$(jf 'd["run_id"]')" start)" "true 2" "a ping that failed once was retried and sent"
is "$(hook_lines 'r["path"]' | tr '\n' ' ')" "/$KEY/start /$KEY/start /$KEY " "two start attempts, one success ping"
done_testing
