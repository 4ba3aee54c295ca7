#!/bin/bash
# jobrun doctor: the setup checklist.
. "$(dirname "$0")/lib.sh"
plan 12
db_create

run_jobrun doctor
is "$RC" 1 "doctor fails before migrate"
like "$OUT" "FAIL +schema +version 0 of [0-9]+: run 'jobrun migrate'" "it says how to fix the schema"
like "$OUT" "ok +database" "the database is reachable"

db_migrate
run_jobrun doctor
is "$RC" 0 "doctor passes after migrate"
like "$OUT" "warn +comicvine +not configured" "an unconfigured provider is a warning"

JOBRUN_MAX_RUNTIME=soon run_jobrun doctor
is "$RC" 78 "a malformed variable is a configuration error"
like "$OUT$ERR" "JOBRUN_MAX_RUNTIME: invalid duration" "the error names the variable"


start_fake cv comicvine.py --api-key cv-secret-key-0123456789abcdef --volumes 10
export COMICVINE_API_URL="$CV_URL/api"
COMICVINE_API_KEY=cv-secret-key-0123456789abcdef run_jobrun doctor --online
is "$RC" 0 "doctor --online passes with the right key"
like "$OUT" "ok +comicvine \\(online\\) +HTTP 200, status_code 1" "the online line shows ComicVine's answer"
COMICVINE_API_KEY=wrong-key-cv-secret-key-0123456789abcdef run_jobrun doctor --online
is "$RC" 1 "doctor --online fails with a wrong key"
like "$OUT" "FAIL +comicvine \\(online\\) +HTTP 401, status_code 100" "the failing line says why"

DATABASE_URL="postgresql://u:s3cr3t-db-pass-canary@127.0.0.1:1/x" run_jobrun doctor
like "$OUT" "FAIL +database +cannot connect" "an unreachable database fails its line"

done_testing
