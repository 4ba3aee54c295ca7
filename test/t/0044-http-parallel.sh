#!/bin/bash
# http_send_all: several requests at once over curl multi, at most N in
# flight, each with the same retry semantics as http_send.
. "$(dirname "$0")/lib.sh"
plan 16
start_fake httpfake httpfake.py
LOG=$T_TMP/httpfake.log

requests_at_least() { [ "$(stat 'd["requests"]')" -ge "$1" ]; }
lines_where() { # lines_where <python condition on d>: how many stdout lines match
	printf '%s\n' "$OUT" | python3 -c "import json,sys; print(sum(1 for l in sys.stdin if l.strip() and (lambda d: $1)(json.loads(l))))"
}
urls() { for b in a b c d e f g h; do printf '%s ' "$HTTPFAKE_URL/bucket/$b"; done; }
# Most requests the stand-in had in progress at once, from arrival and duration.
max_in_flight() {
	python3 -c '
import json, sys
ev = []
for l in open(sys.argv[1]):
    e = json.loads(l)
    ev += [(e["t"], 1), (e["t"] + e["dur"], -1)]
cur = top = 0
for _, d in sorted(ev, key=lambda x: (x[0], x[1])):
    cur += d
    top = max(top, cur)
print(top)' "$LOG"
}

# Eight URLs, four at a time, each answer slowed to 0.5 s: about 1 s in all.
reset_fake
fault '{"match":"/bucket/","kind":"slow","seconds":0.5,"count":8}'
# shellcheck disable=SC2046
run_jobrun debug-http --parallel 4 $(urls)
is "$RC" 0 "--parallel 4 over 8 URLs: exit 0"
is "$(lines_where 'd.get("outcome") == "done" and d["json_ok"]')" 8 "all eight are done with JSON"
is "$(printf '%s\n' "$OUT" | tail -n 1)" '{"total_attempts":8,"rate_limited_calls":0}' "eight attempts in all"
is "$(stat 'd["requests"]')" 8 "the server saw exactly eight requests"
fake_settle
is "$(max_in_flight)" 4 "never more than four in flight, and four at once"
# Judged on the server's clock: client start-up (valgrind) does not count.
# Two waves of four take 1 s; load adds milliseconds of scheduling to each
# request, not seconds. One at a time would take 4 s, so < 3 s shows the
# parallelism (max_in_flight above is the proof by cause; this is the speed).
span=$(python3 -c 'import json,sys; e=[json.loads(l) for l in open(sys.argv[1])]; print("%.2f" % (max(x["t"]+x["dur"] for x in e) - min(x["t"] for x in e)))' "$LOG")
check "in parallel: 8 x 0.5 s served in ${span}s" below "$span" 3
is "$(stat 'sorted(d["by_bucket"])')" "['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']" "every URL was requested"

# Retries inside the batch: one URL fails twice, another is rate limited
# with Retry-After; the others are not held up and everything ends done.
reset_fake
fault '[{"match":"/bucket/c","kind":"status","status":503,"count":2},
	{"match":"/bucket/f","kind":"retry_after","status":429,"value":"1"}]'
# shellcheck disable=SC2046
run_jobrun debug-http --parallel 4 --backoff 10ms $(urls)
is "$RC" 0 "retries within the batch: exit 0"
is "$(lines_where 'd.get("outcome") == "done"')" 8 "all eight done"
is "$(lines_where 'd.get("attempts") == 3')$(lines_where 'd.get("attempts") == 2')" "11" "one needed 3 attempts, one 2"
is "$(printf '%s\n' "$OUT" | tail -n 1)" '{"total_attempts":11,"rate_limited_calls":1}' "eleven attempts counted by the client"

# One that cannot succeed does not fail the others.
reset_fake
fault '{"match":"/bucket/b","kind":"status","status":500,"count":10}'
# shellcheck disable=SC2046
JOBRUN_HTTP_MAX_ATTEMPTS=2 run_jobrun debug-http --parallel 3 --backoff 10ms $(urls)
is "$RC:$(lines_where 'd.get("outcome") == "done"'):$(lines_where 'd.get("outcome") == "gave_up"')" "1:7:1" \
	"one gives up (exit 1), seven are done"

# The budget and SIGTERM reach every transfer in flight.
reset_fake
fault '{"match":"/bucket/","kind":"timeout","seconds":30,"count":8}'
start=$(now)
# shellcheck disable=SC2046
run_jobrun --max-runtime 1s debug-http --parallel 4 $(urls)
elapsed=$(since "$start")
is "$RC:$(lines_where 'd.get("outcome") == "stopped"')" "1:8" "--max-runtime 1s: all eight stopped (${elapsed}s)"

reset_fake
fault '{"match":"/bucket/","kind":"timeout","seconds":30,"count":8}'
# shellcheck disable=SC2046
bg_jobrun debug-http --parallel 4 $(urls)
pid=$BG_PID
check "four transfers reach the stand-in" wait_until 20 requests_at_least 4
start=$(now)
kill -TERM "$pid"
wait_exit "$pid"
elapsed=$(since "$start")
is "$WAIT_RC" 143 "SIGTERM with four transfers in flight exits 143"
check "within the promised 5 s (took ${elapsed}s)" below "$elapsed" 5

done_testing
