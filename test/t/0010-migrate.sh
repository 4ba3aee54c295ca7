#!/bin/bash
# jobrun migrate: ordered, recorded, idempotent, safe when two run at once.
. "$(dirname "$0")/lib.sh"
plan 13
db_create

run_jobrun migrate --status
is "$RC" 1 "--status on an empty database exits 1 (pending migrations)"
like "$OUT" "^0001 +jobrun +pending" "--status lists pending migrations"

run_jobrun migrate
is "$RC" 0 "migrate applies the schema"
like "$OUT" "msg=\"applied migration\" version=1 name=jobrun" "each migration is logged"
applied=$(sql "SELECT count(*) FROM jobrun.schema_migrations")
latest=$(ls "$T_ROOT"/lib/sql/*.sql | wc -l)
is "$applied" "$latest" "every migration is recorded"

run_jobrun migrate
is "$RC" 0 "migrate twice succeeds"
like "$OUT" "applied=0" "the second run applies nothing"
is "$(sql "SELECT count(*) FROM jobrun.schema_migrations")" "$latest" "nothing is recorded twice"

run_jobrun migrate --status --json
is "$RC" 0 "--status exits 0 when up to date"
like "$OUT" '"applied_at":"20[0-9-]+T' "--status --json shows when each was applied"

# Two at once on a fresh database: one waits for the other, neither fails.
dropdb "$T_DB" && createdb "$T_DB"
bg_jobrun migrate; p1=$BG_PID; o1=$BG_OUT
bg_jobrun migrate; p2=$BG_PID; o2=$BG_OUT
wait_exit $p1; r1=$WAIT_RC
wait_exit $p2; r2=$WAIT_RC
is "$r1:$r2" "0:0" "two concurrent migrates both succeed"
is "$(sql "SELECT count(*) FROM jobrun.schema_migrations")" "$latest" "concurrent migrates apply each migration once"

DATABASE_URL="postgresql://nobody:s3cr3t-db-pass-canary@127.0.0.1:1/nowhere" run_jobrun migrate
like "$RC:$ERR$OUT" "^1:.*cannot connect to the database" "an unreachable database is one clear line, exit 1"

done_testing
