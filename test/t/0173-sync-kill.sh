#!/bin/bash
# sync stopped mid-listing, by SIGTERM and by kill -9: what was committed
# stays, nothing is half-written, nothing is wrongly marked removed, and
# the next run completes the work.
. "$(dirname "$0")/lib.sh"
plan 14
db_create
db_migrate
ss_start --latency 0.03
ss_account "{\"key\": \"$SS_KEY_A\", \"alias\": \"acme\", \"products\": 3000, \"inventory\": 50}"
ss_integration acme "$SS_KEY_A" >/dev/null
run_jobrun sync
is "$RC" 0 "a first full sync"

# Upstream: products 1-5 (page 1) change, the last 5 (page 30) go away.
ss_change '{"account": "acme", "resource": "products", "change": 5, "remove": 5}' >/dev/null
revs="SELECT count(*) FROM shipstation.products WHERE name LIKE '%(rev 1)'"

# products_page_seen <mark> <n>: the stand-in has answered page n of products since mark.
products_page_seen() { [ "$(ss_reqs "$1" | awk -v n="$2" '$2 == "products" && $3 >= n && $4 == 200' | wc -l)" -gt 0 ]; }

mark=$(ss_mark)
bg_jobrun sync --only products
wait_until 60 products_page_seen "$mark" 6 || diag "page 6 was never served"
start=$(now)
kill -TERM "$BG_PID"
wait_exit "$BG_PID"
is "$WAIT_RC" 143 "SIGTERM mid-listing: exit 143"
# Within the 5 s promise: one page write and the run record, on a loaded machine.
check "it stopped within 5 s" below "$(since "$start")" 5
is "$(sql "SELECT status FROM jobrun.runs ORDER BY id DESC LIMIT 1")" interrupted "the run is recorded interrupted"
is "$(ss_count products "removed_at IS NOT NULL")" 0 "the interrupted listing marked nothing removed"
is "$(sql "$revs")" 5 "the pages committed before the stop are kept (page 1's changes)"
like "$(sql "SELECT results->0->>'error' FROM shipstation.sync_logs ORDER BY created_at DESC LIMIT 1")" \
	"stop" "its sync_logs row says the operation was stopped"

ss_change '{"account": "acme", "resource": "products", "change": [10, 11, 12]}' >/dev/null
mark=$(ss_mark)
bg_jobrun sync --only products
wait_until 60 products_page_seen "$mark" 4 || diag "page 4 was never served"
kill -KILL "$BG_PID"
wait_exit "$BG_PID"
is "$WAIT_RC" 137 "kill -9 mid-listing"
is "$(ss_count products "removed_at IS NOT NULL")" 0 "still nothing marked removed"
is "$(sql "SELECT count(*) FROM shipstation.products WHERE sku IN ('SKU-000010', 'SKU-000011', 'SKU-000012') AND name LIKE '%(rev 1)'")" 3 \
	"page 1, committed before the kill, is whole"

run_jobrun --json sync --only products
is "$RC" 0 "the next run completes"
is "$(jf '"%d %d" % (d["summary"]["rows"]["removed"], d["summary"]["rows"]["inserted"])')" "5 0" \
	"it marks the 5 removed rows, and finds nothing to insert"
is "$(sql "SELECT count(*) FILTER (WHERE removed_at IS NULL) || ' ' || count(*) FROM shipstation.products")" "2995 3000" \
	"the mirror matches the account"
is "$(sql "SELECT count(*) FROM jobrun.runs WHERE status = 'abandoned'")" 1 "the killed run is marked abandoned"
ss_dump
done_testing
