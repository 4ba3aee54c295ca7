#!/bin/bash
# One failed request does not end a phase, a storage failure ends the run:
# a /volumes/ batch that fails after its retries is skipped and the other
# batches are sent; when the database refuses a write (here a trigger), the
# run stops at once, failed, after that one request.
. "$(dirname "$0")/lib.sh"
plan 10
db_create
db_migrate
cv_start --volumes 1000
cv_track 1 400

# The first batch: HTTP 500 on both attempts.
fake_post "$CV_URL/_control/fault" '{"kind": "status", "status": 500, "match": "/api/volumes/", "count": 2}' >/dev/null
mark=$(cv_mark)
JOBRUN_HTTP_MAX_ATTEMPTS=2 run_jobrun primecache --limit 100 --json
is "$RC $(jf 'd["status"], d["summary"]["failed_requests"], d["summary"]["stop_reason"]')" "3 partial 1 done" \
	"a batch failing after its retries: exit 3, partial, one failed request"
cv_reqs "$mark" >"$T_TMP/run1"
first=$(awk '$1 == "/volumes/" { print $5; exit }' "$T_TMP/run1")
is "$(awk '$1 == "/volumes/" { print $2 }' "$T_TMP/run1" | tr '\n' ' ')" "500 500 200 200 200 " \
	"the failed batch's two attempts, then the other three batches"
is "$(sql "SELECT count(*) FROM comicvine.volumes WHERE fetched_at IS NOT NULL")|$(sql "SELECT count(*) FROM comicvine.volumes WHERE id IN ($first)")" \
	"300|0" "300 volumes cached; the failed batch's 100 left for the next run, not blamed"

# Storage failure in the issue phase: every issue write fails.
psql_q "CREATE FUNCTION public.t_refuse() RETURNS trigger LANGUAGE plpgsql AS
	\$\$BEGIN RAISE EXCEPTION 'test: storage refused'; END\$\$" >/dev/null
psql_q "CREATE TRIGGER t_refuse BEFORE INSERT ON comicvine.issues FOR EACH ROW EXECUTE FUNCTION public.t_refuse()" >/dev/null
psql_q "UPDATE comicvine.volumes SET issues_fetched_at = NULL" >/dev/null
mark=$(cv_mark)
run_jobrun primecache --limit 100 --json
is "$RC $(jf 'd["status"], d["summary"]["stop_reason"]')" "1 failed error" "a refused issue write: exit 1, failed, stop_reason error"
is "$(cv_reqs "$mark" | awk '{ print $1 }' | tr '\n' ' ')" "/volumes/ /issues/ " \
	"the missing batch, then one /issues/ request: nothing is sent after the failure"
is "$(sql "SELECT status, error LIKE '%storage refused%' FROM jobrun.runs ORDER BY id DESC LIMIT 1")" "failed|t" \
	"the run record says failed, with the database's error"
psql_q "DROP TRIGGER t_refuse ON comicvine.issues" >/dev/null

# Storage failure in the volume phase.
psql_q "CREATE TRIGGER t_refuse BEFORE INSERT ON comicvine.volumes FOR EACH ROW EXECUTE FUNCTION public.t_refuse()" >/dev/null
psql_q "UPDATE comicvine.volumes SET refresh_after = now() - interval '1 day'" >/dev/null
mark=$(cv_mark)
run_jobrun primecache --limit 100 --json
is "$RC $(jf 'd["status"], d["summary"]["stop_reason"]')" "1 failed error" "a refused volume write: exit 1, failed"
is "$(cv_reqs "$mark" | awk '{ print $1 }' | tr '\n' ' ')" "/volumes/ " "one request, then the run stops"
is "$(sql "SELECT count(*) FROM comicvine.volumes WHERE refresh_after > now()")" 0 "nothing was written"
cv_no_violations
done_testing
