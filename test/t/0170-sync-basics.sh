#!/bin/bash
# sync: every active integration mirrored in two phases (phase 1 in order,
# phase 2's two streams overlapping), typed columns, sync_logs rows the
# operators' queries read, unchanged rows never rewritten, changes and
# removals applied, a removed row that comes back revived.
. "$(dirname "$0")/lib.sh"
plan 26
db_create
db_migrate
# Latency makes every request last: phase 2's streams must overlap.
ss_start --latency 0.15

run_jobrun sync
is "$RC" 0 "no integration at all: exit 0"
like "$OUT" 'msg="no active ShipStation integrations"' "it says there is nothing to sync"
is "$(sql "SELECT status, summary->>'message' FROM jobrun.runs ORDER BY id DESC LIMIT 1")" \
	"succeeded|no active ShipStation integrations" "and the run is recorded"

ss_account "{\"key\": \"$SS_KEY_A\", \"alias\": \"acme\", \"products\": 250, \"inventory\": 230}"
ss_integration acme "$SS_KEY_A" >/dev/null
ss_integration retired "$SS_KEY_B" false >/dev/null

run_jobrun sync
is "$RC" 0 "sync exits 0 when every operation succeeds"
is "$(ss_count warehouses)/$(ss_count inventory_warehouses)/$(ss_count inventory_locations)/$(ss_count products)/$(ss_count inventory)" \
	"2/2/4/250/230" "every listing is mirrored, every page of it"
is "$(ss_reqs | awk '$1 != "acme"' | wc -l | tr -d ' ')" 0 "the inactive integration is not synced"

# Phase 1 in order: each operation's requests finish before the next one's start.
order=$(ss_reqs | python3 -c '
import sys
reqs = [l.split() for l in sys.stdin]
phase1 = ["warehouses", "inventory_warehouses", "inventory_locations"]
last_finish = {}
first_start = {}
for b, res, page, st, t, fin in reqs:
    last_finish[res] = max(last_finish.get(res, 0), float(fin))
    first_start[res] = min(first_start.get(res, 1e18), float(t))
ok = all(last_finish[a] <= first_start[b] for a, b in zip(phase1, phase1[1:]))
ok = ok and last_finish["inventory_locations"] <= min(first_start["products"], first_start["inventory"])
print("ordered" if ok else "not ordered: %r %r" % (first_start, last_finish))
')
is "$order" ordered "phase 1 runs in order, and phase 2 starts after it"
overlap=$(ss_reqs | python3 -c '
import sys
reqs = [l.split() for l in sys.stdin]
p = [(float(t), float(f)) for b, r, pg, s, t, f in reqs if r == "products"]
i = [(float(t), float(f)) for b, r, pg, s, t, f in reqs if r == "inventory"]
n = sum(1 for a in p for b in i if a[0] < b[1] and b[0] < a[1])
print("overlap" if n >= 2 else "serial (%d overlaps)" % n)
')
is "$overlap" overlap "phase 2: products and inventory requests are in flight at the same time"
is "$(ss_reqs | awk '$2 == "products" {print $3}' | tr '\n' ' ')" "1 2 3 " "products are read page by page through links.next"

# Typed columns and the whole record, as the stand-in serves them.
want=$(fake_get "$SS_URL/_control/rows?account=acme&resource=products" | python3 -c '
import json, sys
p = json.load(sys.stdin)["products"][9]
print("%s|%s|%s|%s" % (p["product_id"], p["sku"], p["name"], "t" if p["active"] else "f"))')
is "$(sql "SELECT product_id, sku, name, active FROM shipstation.products WHERE sku = 'SKU-000010'")" \
	"$want" "product columns are the v2 fields"
want=$(fake_get "$SS_URL/_control/rows?account=acme&resource=inventory" | python3 -c '
import json, sys
r = json.load(sys.stdin)["inventory"][6]
print("|".join(str(r[k]) for k in ("sku", "inventory_warehouse_id", "inventory_location_id", "on_hand", "allocated", "available")))')
is "$(sql "SELECT sku, inventory_warehouse_id, inventory_location_id, on_hand, allocated, available
	FROM shipstation.inventory WHERE sku = 'SKU-000007'")" "$want" "inventory columns are the v2 fields"
is "$(sql "SELECT data->'price'->>'currency' FROM shipstation.products WHERE sku = 'SKU-000010'")" usd \
	"data keeps the whole record"

# The operators' queries, unchanged.
logs=$(sql "SELECT timestamp, total_operations, successful_operations, failed_operations, total_duration, results
	FROM shipstation.sync_logs ORDER BY timestamp DESC LIMIT 10")
is "$(printf '%s\n' "$logs" | wc -l | tr -d ' ')" 1 "one sync_logs row per integration's sync"
is "$(printf '%s\n' "$logs" | cut -d'|' -f2-4)" "5|5|0" "its counts of operations"
is "$(sql "SELECT count(*) FROM shipstation.sync_logs WHERE failed_operations > 0")" 0 "no failed sync"
is "$(sql "SELECT string_agg(r->>'name' || ':' || (r->>'phase') || ':' || (r->>'success') || ':' || (r->>'inserted'), ',' ORDER BY n)
	FROM shipstation.sync_logs, jsonb_array_elements(results) WITH ORDINALITY AS e(r, n)")" \
	"warehouses:1:true:2,inventory_warehouses:1:true:2,inventory_locations:1:true:4,products:2:true:250,inventory:2:true:230" \
	"results: one object per operation with its phase, success and rows"
is "$(sql "SELECT (l.run_id = r.id)::text || ' ' || jsonb_array_length(r.summary->'operations')
	FROM shipstation.sync_logs l JOIN jobrun.runs r ON r.id = l.run_id")" "true 5" \
	"the row names its run, whose summary has the same operations"

# Nothing changed upstream: nothing is rewritten.
snap="SELECT string_agg(product_id || ':' || xmin::text, ',' ORDER BY product_id) FROM shipstation.products"
before=$(sql "$snap")
inv_before=$(sql "SELECT string_agg(xmin::text, ',' ORDER BY sku) FROM shipstation.inventory")
JOBRUN_LOG_LEVEL=warn run_jobrun --json sync
is "$RC" 0 "a second sync succeeds"
is "$(jf '"%d %d %d" % (d["summary"]["rows"]["inserted"], d["summary"]["rows"]["updated"], d["summary"]["rows"]["unchanged"])')" \
	"0 0 488" "it finds every row unchanged"
check "no mirror row was rewritten" [ "$(sql "$snap")" = "$before" ] &&
	[ "$(sql "SELECT string_agg(xmin::text, ',' ORDER BY sku) FROM shipstation.inventory")" = "$inv_before" ]

# Changes upstream: 3 changed, 2 removed, 1 added; one row marked removed
# by an earlier sync comes back.
ss_change '{"account": "acme", "resource": "products", "change": 3, "remove": 2, "add": 1}' >/dev/null
psql_q "UPDATE shipstation.products SET removed_at = now() WHERE sku = 'SKU-000100'"
revived_before=$(sql "SELECT xmin FROM shipstation.products WHERE sku = 'SKU-000100'")
before=$(sql "$snap")
run_jobrun --json sync --only products
is "$RC" 0 "a sync of products only"
is "$(jf '"%d %d %d" % (d["summary"]["rows"]["inserted"], d["summary"]["rows"]["updated"], d["summary"]["rows"]["removed"])')" \
	"1 4 2" "it inserts the new row, updates the 3 changed and the revived one, marks 2 removed"
is "$(sql "SELECT string_agg(sku, ',' ORDER BY sku) FROM shipstation.products WHERE removed_at IS NOT NULL")" \
	"SKU-000249,SKU-000250" "the rows gone upstream are marked removed, not deleted"
is "$(sql "SELECT removed_at IS NULL FROM shipstation.products WHERE sku = 'SKU-000100'")" t \
	"a row that is back has removed_at cleared"
is "$(sql "SELECT count(*) FROM shipstation.products WHERE name LIKE '%(rev 1)'")" 3 "changed rows carry the new data"
changed=$(python3 - "$before" "$(sql "$snap")" <<'PY'
import sys
a = dict(x.split(":") for x in sys.argv[1].split(","))
b = dict(x.split(":") for x in sys.argv[2].split(","))
print(sum(1 for k in a if k in b and a[k] != b[k]))
PY
)
is "$changed" 6 "exactly the changed, revived and removed rows were written"

ss_dump
done_testing
