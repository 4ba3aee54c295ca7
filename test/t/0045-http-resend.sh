#!/bin/bash
# libcurl's silent re-send: when a reused keep-alive connection turns out
# dead (the server closed it without answering), libcurl sends the request
# again on a new connection within the same attempt. That second request
# reaches the provider too, so it must pass the limiter (its own slot, the
# spacing kept) and be counted.
. "$(dirname "$0")/lib.sh"
plan 5
db_create
db_migrate
start_fake http httpfake.py --min-interval 1
stat() { json_field "$(fake_get "$HTTP_URL/_control/stats")" "$1"; }

bg_jobrun debug-pace --provider fake --bucket resend --spacing 1s --count 3 --max-wait 10s \
	"$HTTP_URL/bucket/resend"
pid=$BG_PID
# Once the first request has arrived (its connection is now kept alive),
# the next request on that connection gets no answer: the stand-in closes it.
i=0
while [ "$(stat 'd["requests"]')" -lt 1 ] && [ $i -lt 400 ]; do
	sleep 0.05
	i=$((i + 1))
done
fake_post "$HTTP_URL/_control/fault" '{"match":"/bucket/resend","kind":"timeout","seconds":0}' >/dev/null
wait_exit "$pid"
sanitizer_check "$BG_ERR"
out=$(grep '^{"sent"' "$BG_OUT")
diag "$out"
is "$WAIT_RC" 0 "all three requests were answered in the end (exit 0)"
is "$(stat 'd["requests"]')" 4 "the stand-in saw four requests: three and libcurl's re-send"
is "$(json_field "$out" 'd["sent"], d["attempts"]')" "3 4" "jobrun counted the re-send as an attempt of its own"
like "$(cat "$BG_OUT" "$BG_ERR")" 'msg="http re-send on a new connection"' "the re-send is logged"
is "$(stat 'd["violations"]')" 0 "the re-send kept the spacing (it took a slot of its own)"
done_testing
