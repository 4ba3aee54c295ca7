#!/bin/bash
# A server's "slow down" reaches every process sharing the bucket: when one
# gets 429 Retry-After: 2, the other stops sending too until the block ends.
. "$(dirname "$0")/lib.sh"
plan 7
db_create
db_migrate
# Tolerance: see 0060.
start_fake http httpfake.py --min-interval 0.1 --tolerance 0.015

pace() { # pace <path>: 25 requests on the shared bucket, each process on its own path
	bg_jobrun debug-pace --provider fake --bucket shared --spacing 100ms --count 25 \
		--max-wait 10s "$HTTP_URL/bucket/$1"
}
pace a; a_pid=$BG_PID; a_out=$BG_OUT
pace b; b_pid=$BG_PID; b_out=$BG_OUT
# Arm the fault once both are sending, so the block falls mid-run.
check "both processes are sending" wait_for_line "$T_TMP/http.log" '"/bucket/b"' 20
sleep 0.5
fake_post "$HTTP_URL/_control/fault" '{"kind":"retry_after","value":"2","match":"/bucket/a"}' >/dev/null
wait_exit "$a_pid"; a_rc=$WAIT_RC
wait_exit "$b_pid"; b_rc=$WAIT_RC
sanitizer_check "${a_out%.out}.err"; sanitizer_check "${b_out%.out}.err"
is "$a_rc $b_rc" "0 0" "both finish"
like "$(cat "$a_out")" 'rate limited by the server: bucket blocked.*seconds=2' "the one that got the 429 blocks the shared bucket"

# After the 429 (plus at most one slot b had already reserved), nobody sends
# until the 2 s are over.
verdict=$(python3 -c '
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
fault = [e["t"] for e in log if e["fault"] == "retry_after"]
if len(fault) != 1:
    print("fault fired %d times" % len(fault)); sys.exit()
tf = fault[0]
inside = [round(e["t"] - tf, 3) for e in log if tf + 0.15 < e["t"] < tf + 1.95]
b_after = [e for e in log if e["path"] == "/bucket/b" and e["t"] >= tf + 1.95]
print("ok" if not inside and b_after else "inside=%s b_after=%d" % (inside, len(b_after)))
' "$T_TMP/http.log")
is "$verdict" ok "the other process waits out the block as well"

stats=$(fake_get "$HTTP_URL/_control/stats")
is "$(json_field "$stats" 'd["violations"]')" 0 "no spacing violation"
is "$(json_field "$stats" 'd["requests"]')" 51 "every request was sent once, the 429'd one twice"
is "$(json_field "$(grep '^{"sent"' "$a_out")" 'd["sent"]')" 25 "the blocked request was retried and sent"

done_testing
