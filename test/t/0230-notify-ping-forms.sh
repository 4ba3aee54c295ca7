#!/bin/bash
# One ping template and event map per service (README "Notifications"):
# healthchecks.io, Cronitor, Sentry Crons, Better Stack, Uptime Kuma push and
# Dead Man's Snitch, each against the recording stand-in with a run that
# succeeds and one that ends partial (exit 3): the exact paths and queries
# the service reads. Their keys never reach a log or a run record.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-notify.sh"
plan 19
db_create
db_migrate
hook_start

HC_KEY=5e0f3a4c-9b7d-4c1e-8f2a-6d3b1c0e9a47
CRONITOR_KEY=cr0n1t0rk3y0123456789abcdefabcd
SENTRY_KEY=5en7ryk3y0123456789abcdefabcdef0
BETTER_TOKEN=Ha3KSq6RjzrNVwjWGP5vYU7Y
KUMA_TOKEN=kUm4pUsHt0k3nAbCdEfGhIjKlMnOpQrS
DMS_TOKEN=c2354d53d2
T_SECRETS="$T_SECRETS $HC_KEY $CRONITOR_KEY $SENTRY_KEY $BETTER_TOKEN $KUMA_TOKEN $DMS_TOKEN"

# both_runs: one run that succeeds, one that ends partial (exit 3).
both_runs() {
	hook_clear
	run_jobrun debug-work --items 2 --item-time 1ms
	[ "$RC" = 0 ] || diag "success run: exit $RC: $OUT"
	run_jobrun debug-work --items 2 --item-time 1ms --fail 1
	[ "$RC" = 3 ] || diag "failure run: exit $RC: $OUT"
}
# What the stand-in got: method, path and the query the service reads.
sent() { hook_lines "$1"; }

# healthchecks.io: /start, the bare URL, /fail (the slug form works alike).
export JOBRUN_PING_URL="$HOOK_URL/$HC_KEY{event}" JOBRUN_PING_EVENTS="start=/start,success=,failure=/fail"
both_runs
is "$(sent 'r["method"] + " " + r["path"]' | tr '\n' ' ')" \
	"GET /$HC_KEY/start GET /$HC_KEY GET /$HC_KEY/start GET /$HC_KEY/fail " \
	"healthchecks.io: /start, then the bare URL or /fail"
# healthchecks.io with exit codes: /<exit>.
export JOBRUN_PING_EVENTS="start=/start,success=/{exit},failure=/{exit}"
both_runs
is "$(sent 'r["path"]' | tr '\n' ' ')" "/$HC_KEY/start /$HC_KEY/0 /$HC_KEY/start /$HC_KEY/3 " \
	"healthchecks.io: the exit status as the last segment"

# Cronitor telemetry: ?state=run|complete|fail, with a message.
export JOBRUN_PING_URL="$HOOK_URL/p/$CRONITOR_KEY/nightly-work?state={event}&message={msg}"
export JOBRUN_PING_EVENTS="start=run,success=complete,failure=fail"
both_runs
is "$(sent 'r["path"] + " " + r["query"]["state"]' | tr '\n' ' ')" \
	"/p/$CRONITOR_KEY/nightly-work run /p/$CRONITOR_KEY/nightly-work complete /p/$CRONITOR_KEY/nightly-work run /p/$CRONITOR_KEY/nightly-work fail " \
	"Cronitor: state run, complete, fail"
is "$(sent 'r["query"]["message"]' | sed -n 4p)" "debug-work partial (exit 3): item 1 failed (--fail)" \
	"Cronitor: the message says what happened, URL-encoded and decoded intact"

# Sentry Crons: /api/<project>/cron/<slug>/<key>/?status=in_progress|ok|error
export JOBRUN_PING_URL="$HOOK_URL/api/4505/cron/nightly-work/$SENTRY_KEY/?status={event}"
export JOBRUN_PING_EVENTS="start=in_progress,success=ok,failure=error"
both_runs
is "$(sent 'r["query"]["status"]' | tr '\n' ' ')" "in_progress ok in_progress error " \
	"Sentry Crons: status in_progress, ok, error"
is "$(sent 'r["path"]' | sort -u)" "/api/4505/cron/nightly-work/$SENTRY_KEY/" \
	"Sentry Crons: the check-in path with its trailing slash"

# Better Stack heartbeats: the bare URL, /<exit> on failure; no start.
export JOBRUN_PING_URL="$HOOK_URL/api/v1/heartbeat/$BETTER_TOKEN{event}"
export JOBRUN_PING_EVENTS="success=,failure=/{exit}"
both_runs
is "$(sent 'r["path"]' | tr '\n' ' ')" "/api/v1/heartbeat/$BETTER_TOKEN /api/v1/heartbeat/$BETTER_TOKEN/3 " \
	"Better Stack: the bare URL, /<exit> on failure, no start ping (not in the map)"

# Uptime Kuma push: ?status=up|down&msg=…&ping=<ms>.
export JOBRUN_PING_URL="$HOOK_URL/api/push/$KUMA_TOKEN?status={event}&msg={msg}&ping={duration_ms}"
export JOBRUN_PING_EVENTS="success=up,failure=down"
both_runs
is "$(sent 'r["query"]["status"]' | tr '\n' ' ')" "up down " "Uptime Kuma: status up, then down"
is "$(sent 'r["query"]["msg"]' | sed -n 1p)" "debug-work succeeded (exit 0)" "Uptime Kuma: msg"
like "$(sent 'r["query"]["ping"]' | tr '\n' ' ')" '^[0-9]+ [0-9]+ $' "Uptime Kuma: ping is the duration in ms"

# Dead Man's Snitch: ?s=<exit>&m=<message>, after the run only.
export JOBRUN_PING_URL="$HOOK_URL/$DMS_TOKEN?s={exit}&m={msg}"
export JOBRUN_PING_EVENTS="success=,failure="
both_runs
is "$(sent 'r["path"] + " s=" + r["query"]["s"]' | tr '\n' ' ')" "/$DMS_TOKEN s=0 /$DMS_TOKEN s=3 " \
	"Dead Man's Snitch: s is the exit status"
like "$(sent 'r["query"]["m"]' | sed -n 2p)" '^debug-work partial \(exit 3\)' "Dead Man's Snitch: m says what happened"

# The default map: only success is pinged (a plain heartbeat URL must not
# hear a failure as a success).
export JOBRUN_PING_URL="$HOOK_URL/$HC_KEY"
unset JOBRUN_PING_EVENTS
both_runs
is "$(sent 'r["path"]' | tr '\n' ' ')" "/$HC_KEY " "without JOBRUN_PING_EVENTS only a success pings"

# Placeholders: every value is percent-encoded, so a value never changes
# the URL's shape.
export JOBRUN_PING_URL="$HOOK_URL/x/{job}/{entry}?st={status}&run={run}&d={duration}&m={msg}"
export JOBRUN_PING_EVENTS="failure="
export JOBRUN_ENTRY="nightly work/a&b=c"
both_runs
unset JOBRUN_ENTRY
run_id=$(sql "SELECT max(id) FROM jobrun.runs")
is "$(sent 'r["path"] + " " + r["query"]["st"] + " " + r["query"]["run"]')" \
	"/x/debug-work/nightly%20work%2Fa%26b%3Dc partial $run_id" \
	"{job} {entry} {status} {run}: each value percent-encoded, one segment however it reads"
is "$(sent 'sorted(r["query"])')" "['d', 'm', 'run', 'st']" "an & inside a value did not add a query parameter"
like "$(sent 'r["query"]["d"]')" '^[0-9]+\.[0-9]{3}$' "{duration}: seconds with milliseconds"

# The run record lists each notification: signal, event, host; no URL.
is "$(sql "SELECT summary->'notifications' FROM jobrun.runs WHERE id = $run_id" |
	python3 -c 'import json,sys; print([(n["signal"], n["event"], n["host"], n["ok"]) for n in json.load(sys.stdin)])')" \
	"[('ping', 'failure', '127.0.0.1', True)]" "the run summary records the ping by host and event"
like "$(cat "$T_TMP"/run*.out)" 'msg="notification sent" signal=ping event=failure host=127\.0\.0\.1' \
	"the log names the host and the event"
unlike "$(cat "$T_TMP"/run*.out "$T_TMP"/run*.err)" "/x/debug-work|/p/|/api/push|heartbeat/" \
	"no ping path reaches the log"
done_testing
