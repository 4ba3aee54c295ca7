#!/bin/bash
# sync keeps ShipStation's per-key rate (scaled: 20 requests per 4 s, so
# jobrun is told 270 a minute, 18 per window) across both phase-2 streams and two accounts
# at once, each key at its own pace (together well over one key's rate); a
# 429 with Retry-After blocks the key's shared bucket and the run still
# completes; buckets are named by a hash, never by the key.
. "$(dirname "$0")/lib.sh"
plan 10
db_create
db_migrate
SS_LIMIT=20 SS_WINDOW=4 ss_start
ss_account "{\"key\": \"$SS_KEY_A\", \"products\": 1200, \"inventory\": 1200}"
ss_account "{\"key\": \"$SS_KEY_B\", \"products\": 1200, \"inventory\": 1200}"
ss_integration acme "$SS_KEY_A" >/dev/null
ss_integration globex "$SS_KEY_B" >/dev/null
A=$(ss_bucket "$SS_KEY_A")
B=$(ss_bucket "$SS_KEY_B")
fault "{\"kind\": \"retry_after\", \"value\": \"1\", \"match\": \"/v2/products\", \"query\": {\"page\": \"3\"}, \"account\": \"$A\"}"

run_jobrun --json sync
is "$RC" 0 "sync completes despite the 429"
ss_no_violations
is "$(ss_reqs | awk -v a="$A" '$1 == a && $4 == 429' | wc -l | tr -d ' ')" 1 "acme was told to slow down once"
is "$(ss_count products)/$(ss_count inventory)" "2400/2400" "and every row of both accounts arrived"
# Per-key pacing, by the stand-in's own arrival stamps: each key has its own
# cadence (18 per window, both streams together), so while both run, some
# window-long span holds far more than one key's 18 (up to 36). Pacing them
# as one (a floor over every bucket) holds it to 18; no pacing at all is the
# violation above.
most=$(ss_reqs | awk '{ print $5 }' | sort -n | python3 -c '
import sys
t = [float(x) for x in sys.stdin]
print(max(sum(1 for u in t[i:] if u - t[i] < 4.0) for i in range(len(t))))')
check "both keys at once reach well over one key's rate in a window (most in one: $most of 36)" \
	at_least "$most" 27
is "$(sql "SELECT string_agg(bucket, ' ' ORDER BY bucket) FROM jobrun.rate_buckets WHERE provider = 'shipstation'")" \
	"$(printf '%s\n%s\n' "$A" "$B" | sort | tr '\n' ' ' | sed 's/ $//')" "one bucket per key, named by its hash"
is "$(sql "SELECT blocked_until IS NOT NULL FROM jobrun.rate_buckets WHERE bucket = '$A'")" t \
	"the 429 blocked the key's shared bucket"
is "$(sql "SELECT window_limit || ' ' || extract(epoch FROM period)::integer FROM jobrun.rate_buckets WHERE bucket = '$B'")" \
	"270 60" "the bucket holds SHIPSTATION_REQUESTS_PER_MINUTE a minute"
is "$(jf 'sum(i["requests"] for i in d["summary"]["integrations"])')" "$(ss_mark)" \
	"every request the stand-in saw is counted"
unlike "$(cat "$T_TMP"/run*.out "$T_TMP"/run*.err)" "ss-secret-key" "no key in any output"
ss_dump
done_testing
