#!/bin/bash
# Configuration is judged before anything happens, and a wrong one exits 78
# naming the variable: header values with control characters (no header
# injection), JOBRUN_HTTP_* errors before the lock is taken and a run is
# recorded, a zero time budget. An https URL pointed at a plain-HTTP port is
# a configuration error found by the first attempt, not retried as transient.
. "$(dirname "$0")/lib.sh"
plan 35
db_create
db_migrate
cv_start --volumes 50
cv_track 1 20

runs() { sql "SELECT count(*) FROM jobrun.runs"; }
requests() { cv_stat 'd["requests"]'; }

# --- Header values: CR/LF would end the User-Agent and start a header of its own.
COMICVINE_USER_AGENT=$'tester/1.0\r\nX-Injected: yes' run_jobrun primecache --limit 5
is "$RC" 78 "COMICVINE_USER_AGENT with CR/LF is a configuration error (78)"
like "$ERR$OUT" "COMICVINE_USER_AGENT: contains a control character" "the error names the variable"
unlike "$ERR$OUT" "X-Injected" "the error does not echo the value"
is "$(requests)" 0 "nothing was sent"
is "$(runs)" 0 "no run was recorded"

JOBRUN_USER_AGENT=$'tester/1.0\nX-Injected: yes' run_jobrun primecache --limit 5
is "$RC" 78 "JOBRUN_USER_AGENT with LF is a configuration error (78)"
like "$ERR$OUT" "JOBRUN_USER_AGENT: contains a control character" "the error names the variable"
is "$(requests)" 0 "nothing was sent"
is "$(runs)" 0 "no run was recorded"

JOBRUN_USER_AGENT=$'tester\t1.0' run_jobrun debug-http "$CV_URL/api/volumes/"
is "$RC" 78 "debug-http: a tab in JOBRUN_USER_AGENT is refused too (78)"

# --- JOBRUN_HTTP_* are checked before the lock and the run record.
JOBRUN_HTTP_TIMEOUT=soon run_jobrun primecache --limit 5
is "$RC" 78 "a bad JOBRUN_HTTP_TIMEOUT exits 78"
like "$ERR$OUT" "JOBRUN_HTTP_TIMEOUT: invalid duration" "the error names the variable"
is "$(runs)" 0 "no failed run was recorded for it"

JOBRUN_HTTP_MAX_ATTEMPTS=0 run_jobrun primecache --limit 5
is "$RC" 78 "JOBRUN_HTTP_MAX_ATTEMPTS=0 exits 78"
is "$(runs)" 0 "no failed run was recorded for it"
is "$(requests)" 0 "nothing was sent"

# --- A zero budget would mean no budget at all: refused, not silently unlimited.
run_jobrun primecache --max-runtime 0 --limit 5
is "$RC" 64 "--max-runtime 0 is a usage error (64)"
like "$ERR" "--max-runtime: must be more than 0" "the error says why"
run_jobrun --max-runtime=0s primecache --limit 5
is "$RC" 64 "--max-runtime=0s before the command is a usage error too"
JOBRUN_MAX_RUNTIME=0 run_jobrun primecache --limit 5
is "$RC" 78 "JOBRUN_MAX_RUNTIME=0 is a configuration error (78)"
like "$ERR$OUT" "JOBRUN_MAX_RUNTIME: must be more than 0" "the error names the variable"
is "$(runs)" 0 "none of them started a run"
is "$(requests)" 0 "none of them sent a request"

# One parser for global options: the same spelling before and after the command.
run_jobrun --max-runtime=9m runs
is "$RC" 0 "jobrun --max-runtime=9m runs works"
run_jobrun runs --max-runtime=9m
is "$RC" 0 "jobrun runs --max-runtime=9m works"

# --- https at a plain-HTTP port: TLS finds no TLS there. One attempt, exit 78.
run_jobrun debug-http "https://127.0.0.1:$CV_PORT/api/volumes/"
is "$(json_field "$(sed -n 1p <<<"$OUT")" 'd["outcome"], d["attempts"]')" "gave_up 1" \
	"debug-http: given up after one attempt, not retried as transient"
like "$(json_field "$(sed -n 1p <<<"$OUT")" 'd["error"]')" \
	"^GET /api/volumes/: the URL's scheme does not match the server: no TLS \(curl: " \
	"the error says the URL's scheme does not match the server"

COMICVINE_API_URL="https://127.0.0.1:$CV_PORT/api" run_jobrun primecache --limit 20 --json
is "$RC" 78 "primecache with an https URL at a plain-HTTP port exits 78"
[ "$RC" -eq 78 ] || diag "stderr: $(tail -5 <<<"$ERR")"
is "$(jf 'd["status"], d["api_requests"]')" "failed 1" "--json: failed after one attempt"
like "$(jf 'd["error"]')" "scheme does not match the server" "--json: the error says why"
is "$(sql "SELECT status, api_requests, error LIKE '%scheme does not match the server%' FROM jobrun.runs ORDER BY id DESC LIMIT 1")" \
	"failed|1|t" "the run record says failed, one request, and why"
is "$(requests)" 0 "the stand-in answered no API request (the TLS hello is not one)"

# The same configuration without the mistakes works.
run_jobrun primecache --limit 20
is "$RC" 0 "with the configuration fixed, the run succeeds"
like "$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["user_agent"])' "$T_TMP/cv.log")" \
	"^jobrun/" "the default User-Agent was sent"
cv_no_violations

done_testing
