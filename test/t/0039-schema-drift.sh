#!/bin/bash
# The schema is more than its version number. Objects the applied migrations
# created and that are gone (DROP SCHEMA comicvine CASCADE) fail doctor and
# migrate; a schema newer than the binary (a newer jobrun migrated it) makes
# every command refuse with 78, saying which version to deploy.
. "$(dirname "$0")/lib.sh"
plan 17
db_create
db_migrate
latest=$(sql "SELECT max(version) FROM jobrun.schema_migrations")

run_jobrun doctor
is "$RC" 0 "doctor passes on a fresh schema"
like "$OUT" "ok +schema objects" "doctor checks the objects, not only the version"

psql_q "DROP SCHEMA comicvine CASCADE" >/dev/null
run_jobrun doctor
is "$RC" 1 "doctor fails once comicvine is dropped"
like "$OUT" "FAIL +schema objects +[0-9]+ missing: schema comicvine, table comicvine.tracked_volumes, table comicvine.volumes" \
	"it names what is missing"
like "$OUT" "ok +schema +version $latest of $latest" "the version line alone still looks fine"
run_jobrun migrate
is "$RC" 1 "migrate does not call a damaged schema up to date"
like "$ERR$OUT" "schema version $latest is recorded, but [0-9]+ of the objects its migrations create are missing: schema comicvine" \
	"migrate says what is missing"
unlike "$ERR$OUT" "schema is up to date" "and does not say up to date"
run_jobrun migrate --status
is "$RC" 1 "migrate --status fails too"

# A newer jobrun has migrated this database.
newer=$((latest + 1))
psql_q "INSERT INTO jobrun.schema_migrations (version, name) VALUES ($newer, 'from_the_future')" >/dev/null
msg="database schema is at version $newer, newer than this jobrun \\($latest\\): deploy a jobrun that knows version $newer"
runs_before=$(sql "SELECT count(*) FROM jobrun.runs")
COMICVINE_API_KEY=cv-secret-key-0123456789abcdef COMICVINE_API_URL=http://127.0.0.1:1/api run_jobrun primecache
is "$RC" 78 "primecache refuses to run against a newer schema"
like "$ERR$OUT" "$msg" "it says which version to deploy"
is "$(sql "SELECT count(*) FROM jobrun.runs")" "$runs_before" "it writes nothing, not even a run record"
run_jobrun debug-work --items 1
is "$RC" 78 "so does every job"
run_jobrun migrate
is "$RC" 78 "migrate refuses to go on with a newer schema"
like "$ERR$OUT" "$msg" "migrate says which version to deploy"
run_jobrun doctor
is "$RC" 78 "doctor: a newer schema is a deployment problem (78)"
like "$OUT" "FAIL +schema +$msg" "doctor says which version to deploy"

done_testing
