#!/bin/bash
# A server's "slow down" reaches every process sharing the bucket: when one
# gets 429 Retry-After: 2, the other stops sending too until the block ends.
. "$(dirname "$0")/lib.sh"
plan 7
both_sending() {
	[ "$(count_lines "$T_TMP/http.log" '"/bucket/a"')" -ge 2 ] &&
		[ "$(count_lines "$T_TMP/http.log" '"/bucket/b"')" -ge 2 ]
}
db_create
db_migrate
# Tolerance: see 0060.
start_fake http httpfake.py --min-interval 0.1 --tolerance 0.015

# 250 ms spacing: a slot a process holds when the block is recorded is at
# most one, and a process would have to stall for a whole spacing between
# its 429 and recording the block for the other to get a second one.
pace() { # pace <path>: 10 requests on the shared bucket, each process on its own path
	bg_jobrun debug-pace --provider fake --bucket shared --spacing 250ms --count 10 \
		--max-wait 10s "$HTTP_URL/bucket/$1"
}
pace a; a_pid=$BG_PID; a_out=$BG_OUT
pace b; b_pid=$BG_PID; b_out=$BG_OUT
# Arm the fault once both are sending (two requests each), so the block
# falls mid-run.
check "both processes are sending" wait_until 20 both_sending
fault '{"kind":"retry_after","value":"2","match":"/bucket/a"}'
wait_exit "$a_pid"; a_rc=$WAIT_RC
wait_exit "$b_pid"; b_rc=$WAIT_RC
sanitizer_check "${a_out%.out}.err"; sanitizer_check "${b_out%.out}.err"
is "$a_rc $b_rc" "0 0" "both finish"
like "$(cat "$a_out")" 'rate limited by the server: bucket blocked.*seconds=2' "the one that got the 429 blocks the shared bucket"

# Decided by count, not by how soon: from the 429 until its 2 s are over, a
# sends nothing and b at most the one slot it held when the block was
# recorded; then b goes on. The 429 is stamped before it is answered and the
# block starts once jobrun has the answer, so no slot granted after it can
# arrive before tf + 2 s; 50 ms are left for rounding.
fake_settle
verdict=$(python3 -c '
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
fault = [e["t"] for e in log if e["fault"] == "retry_after"]
if len(fault) != 1:
    print("fault fired %d times" % len(fault)); sys.exit()
tf = fault[0]
inside = [(e["path"], round(e["t"] - tf, 3)) for e in log if tf < e["t"] < tf + 1.95]
b_after = [e for e in log if e["path"] == "/bucket/b" and e["t"] >= tf + 1.95]
ok = len(inside) <= 1 and all(p == "/bucket/b" for p, _ in inside) and b_after
print("ok" if ok else "inside=%s b_after=%d" % (inside, len(b_after)))
' "$T_TMP/http.log")
is "$verdict" ok "the other process waits out the block as well"

stats=$(fake_get "$HTTP_URL/_control/stats")
is "$(json_field "$stats" 'd["violations"]')" 0 "no spacing violation"
is "$(json_field "$stats" 'd["requests"]')" 21 "every request was sent once, the 429'd one twice"
is "$(json_field "$(grep '^{"sent"' "$a_out")" 'd["sent"]')" 10 "the blocked request was retried and sent"

done_testing
