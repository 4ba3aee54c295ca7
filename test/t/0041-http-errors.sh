#!/bin/bash
# lib/http gives up clearly: after the last attempt (naming the status or the
# transport error and the attempt count), on HTML or non-JSON bodies (naming
# status and first bytes), on oversized bodies, and without retrying what
# cannot get better (404, a bad URL).
. "$(dirname "$0")/lib.sh"
plan 27
start_fake httpfake httpfake.py
URL=$HTTPFAKE_URL/json

# Five 500s: the default five attempts, then a clear error and exit 1.
reset_fake
fault '{"match":"/json","kind":"status","status":500,"count":10}'
run_jobrun debug-http --backoff 10ms "$URL"
is "$RC" 1 "giving up exits 1"
is "$(result 'd["outcome"], d["status"], d["attempts"]')" "gave_up 500 5" "gave up after 5 attempts"
is "$(result 'd["error"]')" "GET /json: gave up after 5 attempts: HTTP 500" "the error names the request, attempts and status"
is "$(stat 'd["requests"]')" 5 "exactly 5 requests reached the server"

reset_fake
fault '{"match":"/json","kind":"status","status":502,"count":10}'
JOBRUN_HTTP_MAX_ATTEMPTS=2 run_jobrun debug-http --backoff 10ms "$URL"
is "$(result 'd["error"]')" "GET /json: gave up after 2 attempts: HTTP 502" "JOBRUN_HTTP_MAX_ATTEMPTS=2 stops after 2"
is "$(stat 'd["requests"]')" 2 "exactly 2 requests reached the server"

# Still rate limited after the last attempt.
reset_fake
fault '{"match":"/json","kind":"retry_after","status":429,"value":"0","count":10}'
JOBRUN_HTTP_MAX_ATTEMPTS=3 run_jobrun debug-http --backoff 10ms "$URL"
is "$RC" 1 "still rate limited exits 1"
is "$(result 'd["outcome"], d["class"]')" "rate_limited rate_limited" "outcome rate_limited"
is "$(result 'd["error"]')" "GET /json: still rate limited after 3 attempts: rate limited: HTTP 429" "the error says still rate limited"

# Transport errors every time.
reset_fake
fault '{"match":"/json","kind":"reset","count":10}'
JOBRUN_HTTP_MAX_ATTEMPTS=3 run_jobrun debug-http --backoff 10ms "$URL"
like "$(result 'd["error"]')" '^GET /json: gave up after 3 attempts: connection reset \(curl: .*reset' "resets: the error names the transport failure"
is "$(stat 'd["requests"]')" 3 "resets: exactly 3 requests reached the server"

# Nothing listens: connection refused, retried, then given up.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
JOBRUN_HTTP_MAX_ATTEMPTS=2 run_jobrun debug-http --backoff 10ms "http://127.0.0.1:$port/x"
like "$(result 'd["error"]')" '^GET /x: gave up after 2 attempts: could not connect' "refused: named, retried, given up"

# Not retried: a 404 is an answer; a bad URL never gets better.
reset_fake
run_jobrun debug-http "$HTTPFAKE_URL/nothing-here"
is "$(result 'd["outcome"], d["status"], d["attempts"], d["class"]')" "done 404 1 ok" "404 is final, not retried"
run_jobrun debug-http --backoff 10ms "ftp://127.0.0.1:$port/x"
is "$(result 'd["outcome"], d["attempts"]')" "gave_up 1" "an unsupported protocol is not retried"
like "$(result 'd["error"]')" '^GET /x: request failed \(curl: ' "the error says why"

# HTML and non-JSON bodies: a clear error naming status and first bytes.
reset_fake
fault '{"match":"/json","kind":"html"}'
run_jobrun debug-http "$URL"
is "$(result 'd["outcome"], d["status"], d["json_ok"]')" "done 403 False" "HTML block page: a response, but not JSON"
like "$(result 'd["error"]')" '^expected JSON, got text/html \(HTTP 403, title "Access denied"\): "<!DOCTYPE html> <html lang=' "the error names type, status, title and first bytes"
check "the excerpt is short" test "$(result 'len(d["error"])')" -lt 200

reset_fake
fault '{"match":"/json","kind":"html200"}'
run_jobrun debug-http "$URL"
like "$(result 'd["error"]')" '^expected JSON, got text/html \(HTTP 200, title "Just a moment..."\)' "challenge page with 200: named"

reset_fake
fault '{"match":"/json","kind":"notjson"}'
run_jobrun debug-http "$URL"
is "$(result 'd["error"]')" 'invalid JSON (HTTP 200, application/json) at line 1 column 4: "this is not json"' "broken JSON: status, type and body"

reset_fake
fault '{"match":"/json","kind":"status","status":400,"body":"","content_type":"application/json"}'
run_jobrun debug-http "$URL"
is "$(result 'd["error"]')" 'empty body (HTTP 400)' "empty body: named with its status"

# Size cap: 40 MiB against the 32 MiB default; and a small explicit cap.
reset_fake
fault '{"match":"/json","kind":"bigbody","bytes":41943040}'
run_jobrun debug-http "$URL"
is "$RC" 1 "an oversized body exits 1"
is "$(result 'd["outcome"], d["attempts"]')" "too_large 1" "too_large, not retried"
is "$(result 'd["error"]')" "GET /json: response larger than the 33554432 byte limit (HTTP 200)" "the error names the limit"

reset_fake
fault '{"match":"/json","kind":"bigbody","bytes":5000}'
run_jobrun debug-http --max-bytes 4096 "$URL"
is "$(result 'd["outcome"]')" "too_large" "the cap is exact: 5000 bytes > 4096"
fault '{"match":"/json","kind":"bigbody","bytes":4096}'
run_jobrun debug-http --max-bytes 4096 "$URL"
is "$(result 'd["outcome"], d["json_ok"]')" "done True" "a body of exactly the cap is fine"

# Configuration errors name the variable.
JOBRUN_HTTP_MAX_ATTEMPTS=lots run_jobrun debug-http "$URL"
is "$RC" 78 "a bad JOBRUN_HTTP_MAX_ATTEMPTS is a configuration error"

done_testing
