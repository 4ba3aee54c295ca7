#!/bin/bash
# sync --dry-run: GET only, writes nothing (no mirror row, no sync_logs
# row), and says per operation what it would insert, update and remove.
. "$(dirname "$0")/lib.sh"
plan 10
db_create
db_migrate
ss_start
ss_account "{\"key\": \"$SS_KEY_A\", \"alias\": \"acme\", \"products\": 150, \"inventory\": 90}"
ss_integration acme "$SS_KEY_A" >/dev/null

state="SELECT (SELECT count(*) FROM shipstation.products) || '/' || (SELECT count(*) FROM shipstation.inventory)
	|| '/' || (SELECT count(*) FROM shipstation.sync_logs) || '/' ||
	(SELECT coalesce(string_agg(xmin::text || removed_at::text, ',' ORDER BY product_id), '') FROM shipstation.products)"
run_jobrun --json sync --dry-run
is "$RC" 0 "a dry run on an empty mirror succeeds"
is "$(jf '" ".join("%s:%s" % (o["op"], o["would_insert"]) for o in d["summary"]["operations"])')" \
	"warehouses:2 inventory_warehouses:2 inventory_locations:4 products:150 inventory:90" \
	"per operation, what it would insert"
is "$(sql "$state")" "0/0/0/" "it wrote nothing"

run_jobrun sync
is "$RC" 0 "a real sync"
ss_change '{"account": "acme", "resource": "products", "change": 4, "remove": 3, "add": 2}' >/dev/null
ss_change '{"account": "acme", "resource": "inventory", "change": 1}' >/dev/null
before=$(sql "$state")
mark=$(ss_mark)
run_jobrun --json sync --dry-run
is "$RC" 0 "a dry run after changes upstream"
is "$(jf '" ".join("%s:%s/%s/%s" % (o["op"], o["would_insert"], o["would_update"], o["would_remove"]) for o in d["summary"]["operations"] if o["op"] in ("products", "inventory"))')" \
	"products:2/4/3 inventory:0/1/0" "it counts what it would insert, update and mark removed"
like "$OUT" '"would_remove": ?3' "the summary says so"
is "$(sql "$state")" "$before" "the mirror and sync_logs are untouched"
is "$(ss_reqs "$mark" | awk '{print $4}' | sort -u | tr '\n' ' ')" "200 " "it only read"
is "$(python3 -c 'import json,sys; print(sorted({json.loads(l)["method"] for l in open(sys.argv[1])}))' "$T_TMP/ss.log")" \
	"['GET']" "with GET requests"
ss_dump
done_testing
