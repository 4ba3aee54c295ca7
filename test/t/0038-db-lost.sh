#!/bin/bash
# The server ends the run's session mid-run (pg_terminate_backend here; a
# restart or a failover alike): the run record must not stay `running` with
# the cause lost. jobrun records the failure on one new connection, the
# error naming the lost one.
. "$(dirname "$0")/lib.sh"
plan 10
db_create
db_migrate

# kill_work_session: end the session holding the job's advisory lock (the
# work connection; the limiter's holds none), and wait until it is gone.
kill_work_session() {
	local pid
	pid=$(psql_q "SELECT DISTINCT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
	[ -n "$pid" ] || return 1
	[ "$(psql_q "SELECT pg_terminate_backend($pid)")" = t ] || return 1
	wait_for_sql "SELECT count(*) FROM pg_stat_activity WHERE pid = $pid" '^0$'
}

# request_arrived: the stand-in has seen a request (bounded wait).
request_arrived() {
	local deadline=$(($(date +%s) + 20))
	while [ "$(date +%s)" -le "$deadline" ]; do
		[ "$(cv_stat 'd["requests"]')" -ge 1 ] && return 0
		sleep 0.05
	done
	return 1
}

# 1. Between statements: the job notices only when it finishes its record.
bg_jobrun debug-work --items 1000 --item-time 1s
pid=$BG_PID
check "the run starts working" wait_for_line "$BG_OUT" 'msg=working'
check "its work session is terminated" kill_work_session
kill -TERM "$pid"
wait_exit "$pid"
is "$WAIT_RC" 1 "a run that lost its session exits 1"
is "$(sql "SELECT status, finished_at IS NOT NULL FROM jobrun.runs ORDER BY id DESC LIMIT 1")" "failed|t" \
	"the record says failed, not running"
like "$(sql "SELECT error FROM jobrun.runs ORDER BY id DESC LIMIT 1")" \
	"connection lost.*terminating connection due to administrator command" "the error names the lost connection"

# 2. Mid-request: primecache's answer arrives after its session is gone.
cv_start --volumes 200
cv_track 1 150
fake_post "$CV_URL/_control/fault" '{"kind": "slow", "match": "/api/volumes/", "seconds": 3}' >/dev/null
bg_jobrun primecache
pid=$BG_PID
check "the first request is in flight" wait_for_sql \
	"SELECT count(*) FROM jobrun.runs WHERE job = 'primecache' AND status = 'running'" '^1$'
check "the stand-in holds the request" request_arrived
check "its work session is terminated" kill_work_session
wait_exit "$pid"
is "$WAIT_RC" 1 "primecache exits 1"
is "$(sql "SELECT status, error ~ 'connection lost' FROM jobrun.runs WHERE job = 'primecache' ORDER BY id DESC LIMIT 1")" "failed|t" \
	"the record says failed, naming the lost connection"

done_testing
