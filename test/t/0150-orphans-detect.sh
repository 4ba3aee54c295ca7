#!/bin/bash
# jobrun orphans finds the Cloudinary files no row references: the grace
# period (--min-age), the --types filter, the report parsed back with
# hostile public_ids, findings kept across runs, and a file referenced again
# leaves the findings.
. "$(dirname "$0")/lib.sh"
plan 1
db_create
db_migrate
orph_refapp
orph_start
orph_assets '[{"public_id":"ref/one","age":86400},{"public_id":"orphan/old","age":86400},
 {"public_id":"orphan/young","age":60},{"public_id":"vid/orphan","resource_type":"video","age":7200}]'
orph_ref image ref/one
run_jobrun orphans
diag "$RC"
diag "$OUT"
diag "$ERR"
is 1 1 x
done_testing
