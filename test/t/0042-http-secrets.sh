#!/bin/bash
# What lib/http sends (User-Agent, credentials, headers, bodies) and what it
# never prints: an api_key in the query, --userpwd, a secret header, in any
# run, failures and debug logging included. lib.sh's secret scan checks every
# captured stdout and stderr at the end.
. "$(dirname "$0")/lib.sh"
plan 19
start_fake httpfake httpfake.py
LOG=$T_TMP/httpfake.log
KEY=cv-secret-key-0123456789abcdef
PASS=http-basic-pass-canary-42
TOKEN=bearer-token-canary-9876
T_SECRETS="$T_SECRETS $PASS $TOKEN"

last_logged() { # last_logged <python expression on the last request log entry e>
	python3 -c "import json,sys; e=json.loads(open(sys.argv[1]).read().splitlines()[-1]); print($1)" "$LOG"
}

# The User-Agent: descriptive by default, overridable.
run_jobrun debug-http --show-body "$HTTPFAKE_URL/echo"
like "$(result 'd["body"]["user_agent"]')" '^jobrun/[0-9]+\.[0-9]+\.[0-9]+ \(\+https://' "the default User-Agent names jobrun and its version"
JOBRUN_USER_AGENT="my-app/2.0 (ops@example.com)" run_jobrun debug-http --show-body "$HTTPFAKE_URL/echo"
is "$(result 'd["body"]["user_agent"]')" "my-app/2.0 (ops@example.com)" "JOBRUN_USER_AGENT overrides it"
fake_settle
is "$(last_logged 'e["user_agent"]')" "my-app/2.0 (ops@example.com)" "the stand-in logged the same User-Agent"

# Credentials, headers and bodies reach the server...
run_jobrun debug-http --show-body --userpwd "user:$PASS" "$HTTPFAKE_URL/echo"
is "$(result 'd["body"]["auth_present"], d["body"]["headers"]["Authorization"]')" "True [REDACTED]" "--userpwd sends an Authorization header"
run_jobrun debug-http --show-body --header "Authorization: Bearer $TOKEN" --method POST --data '{"a":1}' "$HTTPFAKE_URL/echo"
is "$(result 'd["body"]["method"], d["body"]["body_length"], d["body"]["auth_present"]')" "POST 7 True" "--method POST --data sends the body and the header"

# ...but never appear in what jobrun prints, even when everything fails and
# debug logging is on.
reset_fake
fault '{"match":"/json","kind":"status","status":500,"count":10}'
run_jobrun -v debug-http --backoff 10ms --userpwd "user:$PASS" --header "Authorization: Bearer $TOKEN" \
	"$HTTPFAKE_URL/json?api_key=$KEY&format=json"
is "$RC" 1 "a failing request with secrets exits 1"
like "$(result 'd["error"]')" '^GET /json: gave up after 5 attempts: HTTP 500$' "the error has the path, not the query"
like "$ERR" 'at=debug msg="http attempt"' "debug logging was on"
unlike "$OUT$ERR" "$KEY|$PASS|$TOKEN" "no secret in output of a failing run"

reset_fake
fault '{"match":"/json","kind":"reset","count":10}'
JOBRUN_HTTP_MAX_ATTEMPTS=2 run_jobrun -v debug-http --backoff 10ms --userpwd "user:$PASS" "$HTTPFAKE_URL/json?api_key=$KEY"
like "$(result 'd["error"]')" 'connection reset' "reset with secrets: a transport error"
unlike "$OUT$ERR" "$KEY|$PASS" "no secret in output of a transport failure"

# A body that echoes the key back is quoted in the JSON error: redacted.
reset_fake
fault "{\"match\":\"/json\",\"kind\":\"status\",\"status\":401,\"content_type\":\"text/plain\",\"body\":\"bad key $KEY\"}"
run_jobrun debug-http "$HTTPFAKE_URL/json?api_key=$KEY"
like "$(result 'd["error"]')" 'expected JSON, got text/plain \(HTTP 401\): "bad key \[REDACTED\]"' "a body echoing the key is redacted in the error"

# Secrets in URLs are redacted even where the URL itself is printed.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
JOBRUN_HTTP_MAX_ATTEMPTS=1 run_jobrun -v debug-http "http://user:$PASS@127.0.0.1:$port/x?token=$TOKEN&api_key=$KEY"
like "$(result 'd["error"]')" '^GET /x: gave up after 1 attempt: could not connect' "refused with userinfo in the URL"
unlike "$OUT$ERR" "$KEY|$PASS|$TOKEN" "no secret from the URL's userinfo or query"

# A 429 with a deadline: the error path that quotes waits.
reset_fake
fault '{"match":"/json","kind":"retry_after","status":429,"value":"30"}'
run_jobrun --max-runtime 1s debug-http "$HTTPFAKE_URL/json?api_key=$KEY"
is "$(result 'd["outcome"]')" "rate_limited" "rate limited past the deadline"
unlike "$OUT$ERR" "$KEY" "no secret in the deadline error"

# The request log shows what was sent; the fake redacts it itself.
fake_settle
is "$(last_logged 'e["query"]["api_key"]')" "[REDACTED]" "the key did reach the server (redacted in its log)"
check "no secret appears in the stand-in's own log" sh -c "! cat '$LOG.old' '$LOG' | grep -qF -e '$PASS' -e '$TOKEN'"

# A secret header echoed back in a body is redacted in what jobrun prints.
run_jobrun debug-http --show-body --header "X-Api-Key: $TOKEN" "$HTTPFAKE_URL/echo"
is "$(result 'd["body"]["auth_present"]')" True "X-Api-Key is sent"

done_testing
