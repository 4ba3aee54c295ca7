#!/bin/bash
# A second provider on the provider pattern (test-tool debug-provider: one
# file, one descriptor) against httpfake.py: pages followed to the end in
# every paging style, a foreign links.next refused, a spacing-only bucket
# blocked by "Remaining: 0", a 420 with an HTTP-date Reset waited out until
# that date, two streams on one pool where one's slot wait does not stall the
# other, the run's request budget, and bucket names without the key.
. "$(dirname "$0")/lib.sh"
plan 17
db_create
db_migrate
KEY="fp-secret-key-0042-abcdef"
T_SECRETS="$T_SECRETS $KEY"
export FAKEPROV_KEY="$KEY"
routes() { # routes <log> <path>: the statuses the stand-in answered on path, in order
	python3 -c '
import json, sys
rows = sorted((json.loads(l) for l in open(sys.argv[1])), key=lambda d: d["t"])
print(" ".join(str(d["status"]) for d in rows if d["path"] == sys.argv[2]))' "$1" "$2"
}

# --- paging: cursor, links, offset, all to the end, as streams on one pool
start_fake http httpfake.py --items 35
export FAKEPROV_URL="$HTTP_URL"
run_jobrun debug-provider cursor:a links:b offset:c
summary=$(printf '%s\n' "$OUT" | grep '^{"streams"')
is "$RC $(json_field "$summary" '[(k, v["items"], v["pages"], v["result"]) for k, v in sorted(d["streams"].items())]')" \
	"0 [('a', 35, 4, 'ok'), ('b', 35, 4, 'ok'), ('c', 35, 4, 'ok')]" \
	"cursor, links.next and offset listings followed to the end: 35 items in 4 pages each"
fake_settle
is "$(routes "$FAKE_LOG" /cursor/a)|$(routes "$FAKE_LOG" /paged/b)|$(routes "$FAKE_LOG" /offset/c)" \
	"200 200 200 200|200 200 200 200|200 200 200 200" "four requests per listing, no page asked twice"
is "$(sql "SELECT string_agg(bucket, ' ' ORDER BY bucket) FROM jobrun.rate_buckets WHERE provider = 'fakeprov'")" \
	"acme/a acme/b acme/c" "buckets are named by integration and stream"
is "$(sql "SELECT count(*) FROM jobrun.rate_buckets WHERE bucket LIKE '%$KEY%' OR provider LIKE '%$KEY%'")" 0 \
	"no bucket name carries the key"

run_jobrun debug-provider --sequential cursor:a links:b offset:c
is "$RC $(printf '%s\n' "$OUT" | grep -c '^{"stream":.*"result":"ok"')" "0 12" "the same pages one after another (provider_page)"

run_jobrun debug-provider --limit 2 cursor:a
summary=$(printf '%s\n' "$OUT" | grep '^{"streams"')
is "$RC $(json_field "$summary" 'd["attempts"], d["streams"]["a"]["result"]')" "3 2 stop_bucket" \
	"--limit 2: two requests, then the stream stops on the run's budget (partial)"

# --- a links.next to another host is not followed (the key would go there)
start_fake foreign httpfake.py --items 35 --links-base http://127.0.0.2:9
export FAKEPROV_URL="$FOREIGN_URL"
run_jobrun debug-provider links:x
like "$OUT" '"stream":"x","page":0,"result":"failed".*links.next points at another host' \
	"a page whose links.next points at another host fails the stream"
fake_settle
is "$(routes "$FAKE_LOG" /paged/x)" "200" "nothing was sent to the other host's link"

# --- a spacing-only bucket takes the server's "Remaining: 0, Reset: N"
start_fake spaced httpfake.py --items 30 --rate-convention generic \
	--bucket-rules '{"s": {"window_limit": 2, "window_seconds": 3}}'
export FAKEPROV_URL="$SPACED_URL"
# Our bucket acme/s has no window of its own (only spacing): only the
# server's count can keep the third page out of the spent window.
run_jobrun debug-provider --spacing 10ms cursor:s
is "$RC $(printf '%s\n' "$OUT" | grep -c '^{"stream":.*"result":"ok"')" "0 3" "three pages read"
fake_settle
is "$(routes "$FAKE_LOG" /cursor/s)|$(stat 'd["violations"]')" "200 200 200|0" \
	"the third request waited for the reset: no 429, no window violation"
like "$ERR" 'server says nothing is left: bucket blocked until its reset.*bucket=acme/s' \
	"the spacing-only bucket was blocked by the server's count"

# --- Cloudinary's 420 with an HTTP-date Reset: wait until that date
start_fake cloud httpfake.py --items 30 --rate-convention cloudinary \
	--bucket-rules '{"d": {"window_limit": 2, "window_seconds": 3}}'
export FAKEPROV_URL="$CLOUD_URL"
# Spend the stand-in's window before jobrun comes, so its first answer is
# the 420 (no Retry-After, X-FeatureRateLimit-Reset an HTTP date).
curl -s -o /dev/null "$CLOUD_URL/cursor/d?max_results=1"
curl -s -o /dev/null "$CLOUD_URL/cursor/d?max_results=1"
run_jobrun debug-provider --convention cloudinary cursor:d
is "$RC $(printf '%s\n' "$OUT" | grep -c '^{"stream":.*"result":"ok"')" "0 3" "all pages read after the 420"
fake_settle
# A blind backoff (up to 1 s at the first retry) would arrive inside the
# 3 s window and get a second 420: one 420, then only answers.
is "$(routes "$FAKE_LOG" /cursor/d)" "200 200 420 200 200 200" \
	"one 420, and the retry came after the Reset date: accepted"
like "$ERR" 'http retry.*status=420.*wait_s=[1-3]\.' "the wait was the Reset date's, not a backoff"

# --- two streams on one pool: a slot wait on one does not stall the other
start_fake pool httpfake.py --items 30
export FAKEPROV_URL="$POOL_URL"
run_jobrun debug-provider --slow a --slow-spacing 1s cursor:a cursor:b
is "$RC" 0 "both streams done"
fake_settle
order=$(python3 -c '
import json, sys
rows = sorted((json.loads(l) for l in open(sys.argv[1])), key=lambda d: d["t"])
print(" ".join(d["path"][-1] for d in rows))' "$FAKE_LOG")
diag "arrival order: $order"
# a's second page waits a second for its slot; b's three pages go meanwhile.
is "$(python3 -c '
import sys
o = sys.argv[1].split()
print(o.count("a"), o.count("b"), max(i for i, s in enumerate(o) if s == "b") < [i for i, s in enumerate(o) if s == "a"][1])' "$order")" \
	"3 3 True" "b's pages all arrived while a waited for its next slot"
is "$(stat 'd["violations"]')" 0 "no violation at the stand-ins"
done_testing
