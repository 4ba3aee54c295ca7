#!/bin/bash
# jobrun schedule lists paused entries as paused (state in Postgres, read when
# a database is configured); without a database, with a schema that predates
# pausing, or when the database cannot be read, it still lists every entry
# and says once that the pause state is unknown.
. "$(dirname "$0")/lib.sh"
plan 22
db_create

export JOBRUN_SCHEDULE="$T_TMP/jobrun.cron"
cat >"$JOBRUN_SCHEDULE" <<'CRON'
# jobrun: name=every5
*/5 * * * * jobrun prune --dry-run
# jobrun: name=daily
0 2 * * * jobrun primecache --dry-run --limit 1
CRON
paused() { jf '[(e["name"], e["paused"], "paused_at" in e) for e in d["entries"]]'; }

# No database configured at all (DATABASE_URL and libpq's PG* unset).
DATABASE_URL= PGHOST= PGDATABASE= run_jobrun schedule --count 1
is "$RC" 0 "without a database the listing exits 0"
like "$OUT" "^pause state unknown: no DATABASE_URL$" "and says the pause state is unknown"
is "$(count_lines "$T_TMP/run$T_RUN.out" 'pause state unknown')$(count_lines "$T_TMP/run$T_RUN.out" '^(every5|daily)  \(line')" "12" "once, above both entries"
DATABASE_URL= PGHOST= PGDATABASE= run_jobrun schedule --count 1 --json
is "$(paused) $(jf 'd["pause_state_unknown"]')" "[('every5', None, False), ('daily', None, False)] no DATABASE_URL" "--json: paused is null, and why"

# A database whose schema predates pausing (not migrated yet).
run_jobrun schedule --count 1
is "$RC" 0 "an unmigrated database: exit 0"
like "$OUT" "^pause state unknown: the database has no jobrun.schedule_paused yet \(run 'jobrun migrate'\)" "and it says so"

db_migrate
run_jobrun schedule --count 1
is "$RC" 0 "migrated, nothing paused: exit 0"
unlike "$OUT" "PAUSED|pause state unknown" "nothing is marked, nothing unknown"
run_jobrun schedule --count 1 --json
is "$(paused) $(jf '"pause_state_unknown" in d')" "[('every5', False, False), ('daily', False, False)] False" "--json: paused false"

run_jobrun schedule pause every5
is "$RC" 0 "pause every5"
run_jobrun schedule --count 1
like "$OUT" "^every5  \(line 2\)  PAUSED since 20[0-9-]+T[0-9:]+Z$" "the paused entry is marked, with when"
unlike "$OUT" "^daily .*PAUSED" "the other is not"
run_jobrun schedule --count 1 --json
is "$(paused)" "[('every5', True, True), ('daily', False, False)]" "--json: paused true, with paused_at"
is "$(jf '[e["paused_at"] for e in d["entries"] if e["paused"]][0]')" \
	"$(sql "SELECT to_char(paused_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM jobrun.schedule_paused WHERE entry = 'every5'")" \
	"paused_at is the recorded time"

run_jobrun schedule resume every5
is "$RC" 0 "resume every5"
run_jobrun schedule --count 1
unlike "$OUT" "PAUSED" "after resume nothing is marked"
run_jobrun schedule --count 1 --json
is "$(paused)" "[('every5', False, False), ('daily', False, False)]" "--json: paused false again"

# A database that cannot be reached: a warning, the listing still prints.
T_SECRETS="$T_SECRETS hunter2x"
DATABASE_URL=postgresql://jobrun:hunter2x@127.0.0.1:1/none run_jobrun schedule --count 1
is "$RC" 0 "an unreachable database does not fail the listing"
like "$OUT" 'at=warn msg="listing without the pause state: the database could not be read"' "it warns"
like "$OUT" "^pause state unknown: the database could not be read$" "says the pause state is unknown"
is "$(count_lines "$T_TMP/run$T_RUN.out" '^(every5|daily)  \(line')" 2 "and lists every entry"
DATABASE_URL=postgresql://jobrun:hunter2x@127.0.0.1:1/none run_jobrun schedule --count 1 --json
is "$RC $(paused) $(jf 'd["pause_state_unknown"]')" "0 [('every5', None, False), ('daily', None, False)] the database could not be read" "--json: one object on stdout, paused null"

done_testing
