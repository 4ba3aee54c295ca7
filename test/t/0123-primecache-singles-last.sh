#!/bin/bash
# Singles after batches: ids a /volumes/ batch omits are fetched one by one
# only after every batch of the phase has been sent, never in between; when
# --limit ends the run first, they wait for a later run.
. "$(dirname "$0")/lib.sh"
plan 7
db_create
db_migrate
cv_start --volumes 1000 --omit-ids 5,150,250,399,450,650
cv_track 1 400

mark=$(cv_mark)
run_jobrun primecache --limit 100 --json
is "$RC $(jf 'd["status"], d["summary"]["volumes"]["added"]')" "0 succeeded 400" "all 400 cached"
cv_reqs "$mark" >"$T_TMP/run1"
is "$(awk '$1 != "/issues/" { print $1 }' "$T_TMP/run1" | uniq -c | awk '{ print $1, $2 }' | tr '\n' ' ')" \
	"4 /volumes/ 4 /volume/ " "four batches, then the four omitted ids singly"
is "$(awk '$1 == "/volume/" { print $5 }' "$T_TMP/run1" | sort -n | tr '\n' ' ')" "5 150 250 399 " \
	"the singles are the omitted ids"

# Three batches fit in --limit 3; their omitted ids (450, 650) wait.
cv_track 401 700
mark=$(cv_mark)
run_jobrun primecache --limit 3 --json
is "$RC $(jf 'd["summary"]["stop_reason"], d["summary"]["volumes"]["added"]')" "0 limit 298" "--limit 3: three batches, 298 added"
is "$(cv_reqs "$mark" | awk '{ print $1 }' | tr '\n' ' ')" "/volumes/ /volumes/ /volumes/ " "no single fetch in between"

mark=$(cv_mark)
run_jobrun primecache --limit 100 --json
is "$RC $(sql "SELECT count(*) FROM comicvine.volumes WHERE fetched_at IS NOT NULL AND id IN (450, 650)")|$(cv_reqs "$mark" | awk '$1 == "/volume/" { print $5 }' | sort -n | tr '\n' ' ')" \
	"0 2|450 650 " "the next run fetches them singly"
cv_no_violations
done_testing
