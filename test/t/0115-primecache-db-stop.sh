#!/bin/bash
# A run blocked on Postgres stops like any other: another session holding a
# lock the run waits for (LOCK TABLE comicvine.volumes; FOR UPDATE on
# jobrun.rate_buckets) must not keep SIGTERM or the deadline waiting. The
# wait is cancelled after the stop grace, the run exits 143 (deadline: 3)
# within 5 s, and the record says interrupted.
. "$(dirname "$0")/lib.sh"
plan 16
db_create
db_migrate
cv_start --volumes 100
cv_track 1 20

# hold <sql>: another session takes a lock in a transaction and keeps it
# (20 s at most); release ends it. Waits until the lock is granted.
hold() {
	psql -X -q -d "$T_DB" -v ON_ERROR_STOP=1 \
		-c "SET application_name = 'holder'" \
		-c "BEGIN; $1; SELECT pg_sleep(20); COMMIT" >/dev/null 2>&1 &
	T_PIDS="$T_PIDS $!"
	wait_for_sql "SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'holder' AND datname = current_database()
		  AND query LIKE '%pg_sleep%' AND wait_event = 'PgSleep'" '^1$'
}
release() {
	psql_q "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = 'holder' AND datname = current_database()" >/dev/null
}
# blocked: a jobrun session of this database waits for a lock.
blocked() {
	wait_for_sql "SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'jobrun' AND datname = current_database()
		  AND wait_event_type = 'Lock'" '^1$' 30
}
last_run() { sql "SELECT status, summary->>'stopped_by' FROM jobrun.runs ORDER BY id DESC LIMIT 1"; }

# sigterm_blocked <what is held> <what the run waits for>: start primecache
# while the holder is in place, SIGTERM it once it waits on the lock, and
# check it stops in time with its run recorded interrupted by sigterm.
sigterm_blocked() {
	local pid start elapsed_ms
	bg_jobrun primecache
	pid=$BG_PID
	check "the run waits for $2" blocked
	start=$(date +%s%N)
	kill -TERM "$pid"
	wait_exit "$pid"
	elapsed_ms=$((($(date +%s%N) - start) / 1000000))
	release
	is "$WAIT_RC" 143 "SIGTERM exits 143"
	check "it stops within 5 s of SIGTERM (took ${elapsed_ms} ms)" test "$elapsed_ms" -lt 5000
	is "$(last_run)" "interrupted|sigterm" "the record says interrupted by sigterm"
}

# 1. SIGTERM while waiting for LOCK TABLE comicvine.volumes.
check "another session holds comicvine.volumes" hold "LOCK TABLE comicvine.volumes"
sigterm_blocked comicvine.volumes "the lock"
like "$(sql "SELECT error FROM jobrun.runs ORDER BY id DESC LIMIT 1")" "cancelled because the run is stopping \\(sigterm\\)" \
	"the record says what the run was waiting for when it stopped"

# 2. The deadline, same wait.
check "comicvine.volumes is held again" hold "LOCK TABLE comicvine.volumes"
start=$(date +%s%N)
run_jobrun primecache --max-runtime 2s
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
release
is "$RC" 3 "reaching --max-runtime while blocked exits 3"
check "it ends within 5 s of the deadline (took ${elapsed_ms} ms from start, budget 2 s)" test "$elapsed_ms" -lt 7000
is "$(last_run)" "interrupted|deadline" "the record says interrupted by the deadline"

# 3. SIGTERM while the limiter waits for a row lock on jobrun.rate_buckets.
run_jobrun primecache --limit 2
is "$RC" 0 "a first run creates the rate buckets"
cv_track 21 40
check "another session holds every rate bucket FOR UPDATE" hold "SELECT provider, bucket FROM jobrun.rate_buckets FOR UPDATE"
sigterm_blocked jobrun.rate_buckets "the bucket rows"

done_testing
