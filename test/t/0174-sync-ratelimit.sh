#!/bin/bash
# sync keeps ShipStation's per-key rate (scaled: 20 requests per 2 s, so
# jobrun is told 600 a minute) across both phase-2 streams and two accounts
# at once; a 429 with Retry-After blocks the key's shared bucket and the
# run still completes; buckets are named by a hash, never by the key.
. "$(dirname "$0")/lib.sh"
plan 9
db_create
db_migrate
SS_LIMIT=20 SS_WINDOW=2 ss_start
ss_account "{\"key\": \"$SS_KEY_A\", \"products\": 1200, \"inventory\": 1200}"
ss_account "{\"key\": \"$SS_KEY_B\", \"products\": 600, \"inventory\": 600}"
ss_integration acme "$SS_KEY_A" >/dev/null
ss_integration globex "$SS_KEY_B" >/dev/null
A=$(ss_bucket "$SS_KEY_A")
B=$(ss_bucket "$SS_KEY_B")
fault "{\"kind\": \"retry_after\", \"value\": \"1\", \"match\": \"/v2/products\", \"query\": {\"page\": \"3\"}, \"account\": \"$A\"}"

run_jobrun --json sync
is "$RC" 0 "sync completes despite the 429"
ss_no_violations
is "$(ss_reqs | awk -v a="$A" '$1 == a && $4 == 429' | wc -l | tr -d ' ')" 1 "acme was told to slow down once"
is "$(ss_count products)/$(ss_count inventory)" "1800/1800" "and every row of both accounts arrived"
is "$(sql "SELECT string_agg(bucket, ' ' ORDER BY bucket) FROM jobrun.rate_buckets WHERE provider = 'shipstation'")" \
	"$(printf '%s\n%s\n' "$A" "$B" | sort | tr '\n' ' ' | sed 's/ $//')" "one bucket per key, named by its hash"
is "$(sql "SELECT blocked_until IS NOT NULL FROM jobrun.rate_buckets WHERE bucket = '$A'")" t \
	"the 429 blocked the key's shared bucket"
is "$(sql "SELECT window_limit || ' ' || extract(epoch FROM period)::integer FROM jobrun.rate_buckets WHERE bucket = '$B'")" \
	"600 60" "the bucket holds SHIPSTATION_REQUESTS_PER_MINUTE a minute"
is "$(jf 'sum(i["requests"] for i in d["summary"]["integrations"])')" "$(ss_mark)" \
	"every request the stand-in saw is counted"
unlike "$(cat "$T_TMP"/run*.out "$T_TMP"/run*.err)" "ss-secret-key" "no key in any output"
ss_dump
done_testing
