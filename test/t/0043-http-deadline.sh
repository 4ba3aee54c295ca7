#!/bin/bash
# lib/http and the time budget: no retry whose wait ends past --max-runtime,
# attempts cut at the deadline, and SIGTERM ending a request mid-flight
# within 5 s.
. "$(dirname "$0")/lib.sh"
plan 17
start_fake httpfake httpfake.py
URL=$HTTPFAKE_URL/json

fault() { fake_post "$HTTPFAKE_URL/_control/fault" "$1" >/dev/null; }
reset_fake() { fake_post "$HTTPFAKE_URL/_control/reset" '{}' >/dev/null; }
stat() { json_field "$(fake_get "$HTTPFAKE_URL/_control/stats")" "$1"; }
result() { json_field "$(printf '%s\n' "$1" | sed -n 1p)" "$2"; }
now() { date +%s.%N; }
below() { test "$(echo "$1 < $2" | bc)" -eq 1; }

# Retry-After: 30 with a 2 s budget: give up at once, do not sleep into the wall.
reset_fake
fault '{"match":"/json","kind":"retry_after","status":429,"value":"30"}'
start=$(now)
run_jobrun --max-runtime 2s debug-http "$URL"
elapsed=$(echo "$(now) - $start" | bc)
is "$RC" 1 "Retry-After past the deadline: exit 1"
is "$(result "$OUT" 'd["outcome"], d["attempts"]')" "rate_limited 1" "gave up rate limited after 1 attempt"
like "$(result "$OUT" 'd["error"]')" '^GET /json: rate limited: HTTP 429; waiting 30\.0s to retry would pass the deadline \([0-9.]+s left\)' "the error says the wait would pass the deadline"
check "it gave up long before the 30 s wait (took ${elapsed}s)" below "$elapsed" 7
is "$(stat 'd["requests"]')" 1 "no retry reached the server"

# Backoff that does not fit either: 503s with a 1000 s base and a 2 s budget.
# (Jitter can pick a short wait; retries then stop when the next does not fit.)
reset_fake
fault '{"match":"/json","kind":"status","status":503,"count":10}'
start=$(now)
run_jobrun --max-runtime 2s debug-http --backoff 1000s --backoff-cap 1000s "$URL"
elapsed=$(echo "$(now) - $start" | bc)
is "$(result "$OUT" 'd["outcome"]')" "gave_up" "503s and a short budget: gave up"
like "$(result "$OUT" 'd["error"]')" 'HTTP 503; waiting [0-9.]+s to retry would pass the deadline' "the error says why"
check "within the budget plus 5 s (took ${elapsed}s)" below "$elapsed" 7

# A silent server and a 2 s budget: the attempt's timeout is clipped to the
# deadline (JOBRUN_HTTP_TIMEOUT is 60 s by default).
reset_fake
fault '{"match":"/json","kind":"timeout","seconds":30}'
start=$(now)
run_jobrun --max-runtime 2s debug-http "$URL"
elapsed=$(echo "$(now) - $start" | bc)
is "$(result "$OUT" 'd["outcome"], d["attempts"]')" "stopped 1" "a hanging attempt ends at the deadline"
like "$(result "$OUT" 'd["error"]')" '^GET /json: stopped \(deadline\) after 1 attempt: timed out' "the error says stopped by the deadline"
check "it ended within 5 s of the deadline (took ${elapsed}s)" below "$elapsed" 7

# SIGTERM in the middle of a request that would hang for 30 s.
reset_fake
fault '{"match":"/json","kind":"timeout","seconds":30}'
bg_jobrun debug-http "$URL"
pid=$BG_PID
i=0
while [ "$(stat 'd["requests"]')" -lt 1 ] && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
check "the request reached the server" test "$(stat 'd["requests"]')" -eq 1
start=$(now)
kill -TERM "$pid"
wait_exit "$pid"
elapsed=$(echo "$(now) - $start" | bc)
is "$WAIT_RC" 143 "SIGTERM mid-request exits 143"
check "it stopped within 5 s (took ${elapsed}s)" below "$elapsed" 5
out=$(cat "$BG_OUT")
is "$(result "$out" 'd["outcome"]')" "stopped" "the request is reported stopped"
like "$(result "$out" 'd["error"]')" '^GET /json: stopped \(sigterm\)' "the error says sigterm"

# SIGTERM while waiting out a Retry-After.
reset_fake
fault '{"match":"/json","kind":"retry_after","status":429,"value":"60"}'
bg_jobrun debug-http "$URL"
pid=$BG_PID
wait_for_line "$BG_ERR" 'msg="http retry"' 20
start=$(now)
kill -TERM "$pid"
wait_exit "$pid"
elapsed=$(echo "$(now) - $start" | bc)
check "SIGTERM during a Retry-After wait ends it at once (rc $WAIT_RC, ${elapsed}s)" \
	test "$WAIT_RC" -eq 143 -a "$(echo "$elapsed < 2" | bc)" -eq 1

done_testing
