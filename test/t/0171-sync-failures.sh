#!/bin/bash
# sync: one operation failing never stops the others, and its reason is
# ShipStation's message; an account without the Inventory add-on gets a
# clear per-operation error; an operation cut short marks nothing removed;
# bad invocations are refused with their exit codes.
. "$(dirname "$0")/lib.sh"
plan 21
db_create
db_migrate
ss_start
ss_account "{\"key\": \"$SS_KEY_A\", \"products\": 300, \"inventory\": 120}"
ss_account "{\"key\": \"$SS_KEY_B\", \"products\": 40, \"inventory_addon\": false}"
acme=$(ss_integration acme "$SS_KEY_A")
ss_integration globex "$SS_KEY_B" >/dev/null
A=$(ss_bucket "$SS_KEY_A")
export JOBRUN_HTTP_MAX_ATTEMPTS=2

# acme: phase 1's inventory_warehouses fails (500 on both attempts).
fault "{\"kind\": \"status\", \"status\": 500, \"match\": \"/v2/inventory_warehouses\", \"account\": \"$A\", \"count\": 2}"
run_jobrun sync
is "$RC" 3 "some operations failed: exit 3"
is "$(sql "SELECT string_agg(r->>'name' || '=' || (r->>'success'), ',' ORDER BY n) FROM shipstation.sync_logs l
	JOIN shipstation.integrations i ON i.id = l.integration_id, jsonb_array_elements(l.results) WITH ORDINALITY e(r, n)
	WHERE i.name = 'acme'")" \
	"warehouses=true,inventory_warehouses=false,inventory_locations=true,products=true,inventory=true" \
	"acme: the failed phase-1 operation stopped neither phase 1 nor phase 2"
is "$(ss_count products "integration_id = $acme")" 300 "acme's products are all there"
like "$(sql "SELECT r->>'error' FROM shipstation.sync_logs, jsonb_array_elements(results) r WHERE r->>'name' = 'inventory_warehouses' AND r->>'success' = 'false'")" \
	"HTTP 500" "the failure's reason is recorded"
is "$(sql "SELECT string_agg(r->>'name' || '=' || (r->>'success'), ',' ORDER BY n) FROM shipstation.sync_logs l
	JOIN shipstation.integrations i ON i.id = l.integration_id, jsonb_array_elements(l.results) WITH ORDINALITY e(r, n)
	WHERE i.name = 'globex'")" \
	"warehouses=true,inventory_warehouses=false,inventory_locations=false,products=true,inventory=false" \
	"globex without the Inventory add-on: its inventory operations fail, the others succeed"
err=$(sql "SELECT r->>'error' FROM shipstation.sync_logs l JOIN shipstation.integrations i ON i.id = l.integration_id,
	jsonb_array_elements(l.results) r WHERE i.name = 'globex' AND r->>'name' = 'inventory'")
like "$err" "HTTP 403: The Inventory API add-on is not enabled for this account" "with ShipStation's own message"
like "$err" "need ShipStation's Inventory add-on" "and what it means"
is "$(sql "SELECT count(*) FROM shipstation.sync_logs WHERE failed_operations > 0")" 2 \
	"the operators' query finds both failed syncs"
is "$(sql "SELECT status FROM jobrun.runs ORDER BY id DESC LIMIT 1")" partial "the run is partial"
like "$(sql "SELECT error FROM jobrun.runs ORDER BY id DESC LIMIT 1")" "^(acme|globex)/inventory_warehouses: .*HTTP (500|403)" \
	"its error is the first failure"

# An operation cut short marks nothing removed: products page 2 fails
# after 5 rows went away upstream.
ss_change "{\"account\": \"$A\", \"resource\": \"products\", \"remove\": 5}" >/dev/null
fault "{\"kind\": \"status\", \"status\": 503, \"match\": \"/v2/products\", \"query\": {\"page\": \"2\"}, \"account\": \"$A\", \"count\": 2}"
run_jobrun --json sync --integration acme --only products
is "$RC" 1 "every operation failed: exit 1"
is "$(ss_count products "removed_at IS NOT NULL")" 0 "the cut-short listing marked nothing removed"
run_jobrun --json sync --integration "$acme" --only products,warehouses
is "$RC" 0 "the next run (integration named by id) succeeds"
is "$(jf 'd["summary"]["rows"]["removed"]')" 5 "and marks the 5 removed"
is "$(ss_count products "removed_at IS NOT NULL")" 5 "in the table"

# A 401 is a failed operation, with ShipStation's message, not a run-wide config error.
psql_q "UPDATE shipstation.integrations SET api_key = 'not-the-key-0123' WHERE name = 'globex'"
T_SECRETS="$T_SECRETS not-the-key-0123"
run_jobrun sync --integration globex --only warehouses
is "$RC" 1 "a rejected key fails the integration's operations"
like "$(sql "SELECT results->0->>'error' FROM shipstation.sync_logs ORDER BY created_at DESC LIMIT 1")" \
	"rejected the API key \\(HTTP 401\\): The API key is invalid" "with ShipStation's message"

# Bad invocations.
run_jobrun sync --integration nosuch
is "$RC" 78 "an unknown integration is a configuration error"
like "$ERR$OUT" "no ShipStation integration has the id or name 'nosuch'" "naming it"
run_jobrun sync --only products,parcels
is "$RC" 64 "an unknown operation is a usage error"
like "$ERR" "unknown operation 'parcels'" "naming it"
ss_dump
done_testing
