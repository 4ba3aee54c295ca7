#!/bin/bash
# Pings around every way a run can end: success, a run stopped by SIGTERM
# (its failure ping still goes out, with exit 143), a run that fails at
# configuration before any database work, a run whose database is down, and
# a run skipped for the lock (no ping: the holder pings). A malformed
# notification setting is exit 78 with nothing sent or written.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-notify.sh"
plan 25
db_create
db_migrate
hook_start

KEY=0f4c2e1a-7b3d-4a9e-b5c6-2d8e9f1a3b7c
T_SECRETS="$T_SECRETS $KEY"
export JOBRUN_PING_URL="$HOOK_URL/$KEY{event}?exit={exit}&status={status}&run={run}&m={msg}"
export JOBRUN_PING_EVENTS="start=/start,success=,failure=/fail"
# event exit status run: what one recorded ping says.
pings() { hook_lines 'r["path"].rsplit("/", 1)[-1] + " " + r["query"]["exit"] + " " + r["query"]["status"] + " " + r["query"]["run"]'; }

# A run that succeeds: start, then success, both naming the run.
run_jobrun --json debug-work --items 2 --item-time 1ms
is "$RC" 0 "the run succeeds"
run_id=$(jf 'd["run_id"]')
is "$(pings | tr '\n' ',')" "start  running $run_id,$KEY 0 succeeded $run_id," \
	"start (no exit yet), then success with exit 0, both with the run id"
is "$(jf '[(n["signal"], n["event"], n["ok"]) for n in d["summary"]["notifications"]]')" \
	"[('ping', 'start', True)]" "--json shows the start ping (the end ping follows the summary)"
is "$(sql "SELECT string_agg(n->>'event', ',') FROM jobrun.runs, jsonb_array_elements(summary->'notifications') n WHERE id = $run_id")" \
	"start,success" "the run record lists both pings"

# SIGTERM mid-run: the run stops (143) and its failure ping still goes out.
hook_clear
bg_jobrun debug-work --items 1000 --item-time 50ms
check "the long run is working" wait_for_line "$BG_OUT" 'msg=working'
kill -TERM "$BG_PID"
wait_exit "$BG_PID"
is "$WAIT_RC" 143 "SIGTERM still exits 143"
run_id=$(sql "SELECT max(id) FROM jobrun.runs")
is "$(pings | tr '\n' ',')" "start  running $run_id,fail 143 interrupted $run_id," \
	"the stopped run pings failure with exit 143 (the SIGTERM stopped the run, not its ping)"
is "$(sql "SELECT status FROM jobrun.runs WHERE id = $run_id")" "interrupted" "its record says interrupted"
like "$(cat "$BG_OUT")" 'msg="notification sent" signal=ping event=failure' "the failure ping is logged as sent"

# A configuration error before any database work: exit 78, a failure ping
# with the reason, no start ping, no run record.
hook_clear
runs_before=$(sql "SELECT count(*) FROM jobrun.runs")
(unset COMICVINE_API_KEY; run_jobrun primecache --limit 1; echo "$RC" >"$T_TMP/rc")
RC=$(cat "$T_TMP/rc")
is "$RC" 78 "primecache without its key exits 78, as before"
is "$(pings | tr '\n' ',')" "fail 78 failed ," "one failure ping with exit 78 and no run id"
like "$(hook_lines 'r["query"]["m"]')" '^primecache failed \(exit 78\): .*COMICVINE_API_KEY' "its message names the missing variable"
is "$(sql "SELECT count(*) FROM jobrun.runs")" "$runs_before" "no run record was written"

# The database is down: exit 1 and a failure ping without a run id.
hook_clear
DATABASE_URL="postgresql://nobody:x@127.0.0.1:9/nowhere?connect_timeout=2" run_jobrun debug-work --items 1
is "$RC" 1 "a run without its database exits 1"
is "$(pings | tr '\n' ',')" "fail 1 failed ," "it pings failure"

# Skipped for the lock: the holder pinged start; the skipped run sends nothing.
hook_clear
bg_jobrun debug-work --items 1000 --item-time 50ms
holder=$BG_PID
check "the holder is working" wait_for_line "$BG_OUT" 'msg=working'
run_jobrun debug-work --items 1
is "$RC" 75 "the second run is skipped"
is "$(pings | cut -d' ' -f1 | tr '\n' ',')" "start," "only the holder's start ping arrived"
kill -TERM "$holder"
wait_exit "$holder"

# Malformed settings: exit 78 naming the variable, nothing sent or written.
hook_clear
runs_before=$(sql "SELECT count(*) FROM jobrun.runs")
JOBRUN_PING_URL="$HOOK_URL/$KEY/{jbo}" run_jobrun debug-work --items 1
is "$RC" 78 "an unknown placeholder is exit 78"
like "$ERR$OUT" 'JOBRUN_PING_URL: unknown placeholder \{jbo\}' "the error names the variable and the placeholder"
JOBRUN_PING_EVENTS="start=/start,finish=/done" run_jobrun debug-work --items 1
like "$RC $ERR$OUT" "^78 .*JOBRUN_PING_EVENTS: item 2: unknown event 'finish'" "an unknown event is exit 78, named"
JOBRUN_PING_URL="ftp://$KEY{event}" run_jobrun debug-work --items 1
like "$RC $ERR$OUT" '^78 .*JOBRUN_PING_URL \(event start\): URL scheme must be http or https' "a URL that is not http(s) is exit 78"
JOBRUN_NOTIFY_ON="failures,nope" run_jobrun debug-work --items 1
like "$RC $ERR$OUT" "^78 .*JOBRUN_NOTIFY_ON: unknown word 'nope'" "an unknown JOBRUN_NOTIFY_ON word is exit 78"
JOBRUN_WEBHOOK_URL="$HOOK_URL/services/T1/B2/$KEY" JOBRUN_WEBHOOK_FORMAT=teams run_jobrun debug-work --items 1
like "$RC $ERR$OUT" "^78 .*JOBRUN_WEBHOOK_FORMAT: expected slack, discord or json" "an unknown webhook format is exit 78"
is "$(hook_count) $(sql "SELECT count(*) FROM jobrun.runs")" "0 $runs_before" "none of them sent a ping or wrote a run"
done_testing
