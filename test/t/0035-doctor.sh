#!/bin/bash
# jobrun doctor: the setup checklist.
. "$(dirname "$0")/lib.sh"
plan 7
db_create

run_jobrun doctor
is "$RC" 1 "doctor fails before migrate"
like "$OUT" "FAIL +schema +version 0 of [0-9]+: run 'jobrun migrate'" "it says how to fix the schema"
like "$OUT" "ok +database" "the database is reachable"

db_migrate
run_jobrun doctor
is "$RC" 0 "doctor passes after migrate"

JOBRUN_MAX_RUNTIME=soon run_jobrun doctor
is "$RC" 78 "a malformed variable is a configuration error"
like "$OUT$ERR" "JOBRUN_MAX_RUNTIME: invalid duration" "the error names the variable"

DATABASE_URL="postgresql://u:s3cr3t-db-pass-canary@127.0.0.1:1/x" run_jobrun doctor
like "$OUT" "FAIL +database +cannot connect" "an unreachable database fails its line"

done_testing
