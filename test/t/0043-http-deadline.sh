#!/bin/bash
# lib/http and the time budget: no retry whose wait ends past --max-runtime,
# attempts cut at the deadline, and SIGTERM ending a request mid-flight
# within 5 s.
. "$(dirname "$0")/lib.sh"
plan 18
start_fake httpfake httpfake.py
URL=$HTTPFAKE_URL/json

# Time bounds: each guards a wait of 30 s or more (Retry-After, backoff, a
# silent server) with a run that needs a second or two; the slack is for a
# loaded machine. SIGTERM keeps the promised 5 s: a stop takes milliseconds.
requests_at_least() { [ "$(stat 'd["requests"]')" -ge "$1" ]; }

# Retry-After: 30 with a 2 s budget: give up at once, do not sleep into the wall.
reset_fake
fault '{"match":"/json","kind":"retry_after","status":429,"value":"30"}'
start=$(now)
run_jobrun --max-runtime 2s debug-http "$URL"
elapsed=$(since "$start")
is "$RC" 1 "Retry-After past the deadline: exit 1"
is "$(result 'd["outcome"], d["attempts"]')" "rate_limited 1" "gave up rate limited after 1 attempt"
like "$(result 'd["error"]')" '^GET /json: rate limited: HTTP 429; waiting 30\.0s to retry would pass the deadline \([0-9.]+s left\)' "the error says the wait would pass the deadline"
check "it gave up long before the 30 s wait (took ${elapsed}s)" below "$elapsed" 10
is "$(stat 'd["requests"]')" 1 "no retry reached the server"

# Backoff that does not fit either: 503s with a 1000 s base and a 2 s budget.
# (Jitter can pick a short wait; retries then stop when the next does not fit.)
reset_fake
fault '{"match":"/json","kind":"status","status":503,"count":10}'
start=$(now)
run_jobrun --max-runtime 2s debug-http --backoff 1000s --backoff-cap 1000s "$URL"
elapsed=$(since "$start")
is "$(result 'd["outcome"]')" "gave_up" "503s and a short budget: gave up"
like "$(result 'd["error"]')" 'HTTP 503; waiting [0-9.]+s to retry would pass the deadline' "the error says why"
check "within the budget plus 8 s (took ${elapsed}s)" below "$elapsed" 10

# A silent server and a 2 s budget: the attempt's timeout is clipped to the
# deadline (JOBRUN_HTTP_TIMEOUT is 60 s by default).
reset_fake
fault '{"match":"/json","kind":"timeout","seconds":30}'
start=$(now)
run_jobrun --max-runtime 2s debug-http "$URL"
elapsed=$(since "$start")
is "$(result 'd["outcome"], d["attempts"]')" "stopped 1" "a hanging attempt ends at the deadline"
like "$(result 'd["error"]')" '^GET /json: stopped \(deadline\) after 1 attempt: timed out' "the error says stopped by the deadline"
check "it ended within 5 s of the deadline (took ${elapsed}s; 2 s budget, 1 s for start and exit)" below "$elapsed" 8

# SIGTERM in the middle of a request that would hang for 30 s.
reset_fake
fault '{"match":"/json","kind":"timeout","seconds":30}'
bg_jobrun debug-http "$URL"
pid=$BG_PID
check "the request reached the server" wait_until 20 requests_at_least 1
start=$(now)
kill -TERM "$pid"
wait_exit "$pid"
elapsed=$(since "$start")
is "$WAIT_RC" 143 "SIGTERM mid-request exits 143"
check "it stopped within 5 s (took ${elapsed}s)" below "$elapsed" 5
OUT=$(cat "$BG_OUT")
is "$(result 'd["outcome"]')" "stopped" "the request is reported stopped"
like "$(result 'd["error"]')" '^GET /json: stopped \(sigterm\)' "the error says sigterm"

# SIGTERM while waiting out a Retry-After.
reset_fake
fault '{"match":"/json","kind":"retry_after","status":429,"value":"60"}'
bg_jobrun debug-http "$URL"
pid=$BG_PID
wait_for_line "$BG_ERR" 'msg="http retry"' 20
start=$(now)
kill -TERM "$pid"
wait_exit "$pid"
elapsed=$(since "$start")
is "$WAIT_RC" 143 "SIGTERM during a Retry-After wait exits 143"
check "it ends the 60 s wait within 5 s (took ${elapsed}s)" below "$elapsed" 5

done_testing
