#!/bin/bash
# lib/http retries what is transient: 500, 503, 429 with Retry-After (seconds
# and HTTP date), 420, timeouts, resets mid-body, truncated bodies; and keeps
# its connection alive between requests. Counts come from the stand-in.
. "$(dirname "$0")/lib.sh"
plan 30
start_fake httpfake httpfake.py
URL=$HTTPFAKE_URL/json
LOG=$T_TMP/httpfake.log

line() { printf '%s\n' "$OUT" | sed -n "${1}p"; } # line N of stdout
# Seconds between the first two arrivals the stand-in logged.
# Why a lower bound on it holds under any load: the stand-in stamps a request
# before it answers, and jobrun starts its Retry-After wait only once it has
# the answer, so the retry's stamp is at least the wait after the first one.
# Load only lengthens the gap; the 50 ms allowed is timer granularity.
gap() {
	fake_settle
	python3 -c 'import json,sys; t=[json.loads(l)["t"] for l in open(sys.argv[1])]; print("%.3f" % (t[1]-t[0]))' "$LOG"
}

# 500 twice, then the normal answer: three attempts, all seen by the server.
reset_fake
fault '{"match":"/json","kind":"status","status":500,"count":2}'
run_jobrun debug-http --backoff 10ms "$URL"
is "$RC" 0 "500 twice then 200: exit 0"
is "$(result 'd["outcome"], d["status"], d["attempts"], d["json_ok"]')" "done 200 3 True" "500: done after 3 attempts"
is "$(stat 'd["requests"]')" 3 "500: exactly 3 requests reached the server"
like "$ERR" 'msg="http retry" request="GET /json" attempt=1 status=500' "each retry is logged with attempt and status"

reset_fake
fault '{"match":"/json","kind":"status","status":503,"count":2}'
run_jobrun debug-http --backoff 10ms "$URL"
is "$(result 'd["outcome"], d["attempts"]')" "done 3" "503: done after 3 attempts"
is "$(stat 'd["requests"]')" 3 "503: exactly 3 requests reached the server"

# 429 with Retry-After in seconds: the next attempt waits for it (not the
# 10 ms backoff).
reset_fake
fault '{"match":"/json","kind":"retry_after","status":429,"value":"1"}'
run_jobrun debug-http --backoff 10ms "$URL"
is "$(result 'd["outcome"], d["attempts"], d["retry_after"]')" "done 2 1.0" "429 Retry-After: 1: done after 2 attempts"
is "$(stat 'd["requests"]')" 2 "429: exactly 2 requests reached the server"
g=$(gap)
check "429: the retry came after the 1 s the server asked for (gap ${g}s)" at_least "$g" 0.95
is "$(json_field "$(line 2)" 'd["rate_limited_calls"]')" 1 "429: the on_rate_limited hook heard about it"

# Retry-After as an HTTP date five seconds ahead (whole seconds, and the
# client's start-up eats into it: the wait is whatever is left, > 0; a
# start-up would have to take 4 s for it to be gone).
reset_fake
when=$(python3 -c 'import time; from email.utils import formatdate; print(formatdate(time.time() + 5, usegmt=True))')
fault "{\"match\":\"/json\",\"kind\":\"retry_after\",\"status\":429,\"value\":\"$when\"}"
run_jobrun debug-http --backoff 10ms "$URL"
is "$(result 'd["outcome"], d["attempts"]')" "done 2" "429 Retry-After: <HTTP date>: done after 2 attempts"
ra=$(result 'd["retry_after"]')
check "the HTTP date was understood (wait ${ra}s)" python3 -c "import sys; sys.exit(not 0 < $ra <= 5.05)"
g=$(gap)
check "the retry waited until the date (gap ${g}s, asked ${ra}s)" at_least "$g" "$(awk -v r="$ra" 'BEGIN { print r - 0.05 }')"

# 503 with Retry-After is honoured too.
reset_fake
fault '{"match":"/json","kind":"retry_after","status":503,"value":"1"}'
run_jobrun debug-http --backoff 10ms "$URL"
is "$(result 'd["outcome"], d["attempts"]')" "done 2" "503 Retry-After: 1: done after 2 attempts"
g=$(gap)
check "503: the retry waited for Retry-After (gap ${g}s)" at_least "$g" 0.95

# ComicVine's 420 (no Retry-After): rate limited, backoff, retry.
reset_fake
fault '{"match":"/json","kind":"ratelimit420"}'
run_jobrun debug-http --backoff 10ms "$URL"
is "$(result 'd["outcome"], d["status"], d["attempts"]')" "done 200 2" "420: done after 2 attempts"
is "$(json_field "$(line 2)" 'd["rate_limited_calls"]')" 1 "420: the on_rate_limited hook heard about it"
like "$ERR" 'attempt=1 status=420 error="rate limited: HTTP 420"' "420: the retry log says rate limited"

# A server that never answers: the attempt times out, the next one succeeds.
# Without the timeout the silent attempt would last the fault's 30 s; the
# run needs about 1 s, so 20 s is slack no load reaches and still catches it.
reset_fake
fault '{"match":"/json","kind":"timeout","seconds":30}'
start=$(now)
JOBRUN_HTTP_TIMEOUT=1s run_jobrun debug-http --backoff 10ms "$URL"
elapsed=$(since "$start")
is "$(result 'd["outcome"], d["attempts"]')" "done 2" "timeout: done after 2 attempts"
is "$(stat 'd["requests"]')" 2 "timeout: exactly 2 requests reached the server"
check "JOBRUN_HTTP_TIMEOUT=1s bounds the silent attempt (took ${elapsed}s)" below "$elapsed" 20
like "$ERR" 'error="timed out \(curl: ' "timeout: the retry log says timed out"

# Reset mid-body (half the body, then RST).
reset_fake
fault '{"match":"/json","kind":"reset"}'
run_jobrun debug-http --backoff 10ms "$URL"
is "$(result 'd["outcome"], d["attempts"], d["json_ok"]')" "done 2 True" "reset mid-body: done after 2 attempts"
like "$ERR" 'error="connection reset \(curl: ' "reset: the retry log says connection reset"

# Truncated: fewer bytes than Content-Length, then FIN.
reset_fake
fault '{"match":"/json","kind":"truncated"}'
run_jobrun debug-http --backoff 10ms "$URL"
is "$(result 'd["outcome"], d["attempts"], d["json_ok"]')" "done 2 True" "truncated body: done after 2 attempts"
like "$ERR" 'error="truncated body \(curl: ' "truncated: the retry log says truncated body"
is "$(stat 'd["requests"]')" 2 "truncated: exactly 2 requests reached the server"

# Keep-alive: one client, five sequential requests, one connection.
reset_fake
run_jobrun debug-http --count 5 "$URL"
is "$RC" 0 "--count 5: exit 0"
is "$(json_field "$(line 6)" 'd["total_attempts"]')" 5 "--count 5: five attempts counted"
fake_settle
conns=$(python3 -c 'import json,sys; print(len({json.loads(l)["conn"] for l in open(sys.argv[1])}))' "$LOG")
is "$conns" 1 "--count 5: one keep-alive connection served all five"

done_testing
