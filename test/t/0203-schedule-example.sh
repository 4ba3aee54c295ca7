#!/bin/bash
# The example jobrun.cron in the repository loads, and --heroku splits it as
# documented: the daily UTC entries go to Scheduler as ticks over their entry,
# the weekly and New York ones to the plain tick. Skipped until every job it names is registered (cleanup,
# orphans and sync arrive on their own branches).
. "$(dirname "$0")/lib.sh"

export JOBRUN_SCHEDULE="$T_ROOT/jobrun.cron"
for job in primecache prune cleanup orphans sync; do
	if ! "$JOBRUN" help "$job" >/dev/null 2>&1; then
		echo "1..0 # SKIP job '$job' is not registered in this build"
		exit 0
	fi
done
plan 10

run_jobrun schedule --from 2025-03-08T00:00:00Z --count 1 --json
is "$RC" 0 "the example file loads"
is "$(jf 'len(d["entries"])')" 11 "with its eleven entries"
is "$(jf '[e["name"] for e in d["entries"]][:7]')" \
	"['prune', 'primecache', 'primecache-force-volumes', 'cleanup', 'orphans-days-7', 'orphans-days-90', 'sync-game-sunday']" \
	"derived and explicit names"
# Sunday 2025-03-09 is the spring-forward day in New York.
is "$(jf '[n["local"] for e in d["entries"] if e["name"] == "sync-game-sunday" for n in e["next"]]')" \
	"['2025-03-09T13:00:00-04:00']" "the game-day window opens at 1 PM New York time"

run_jobrun schedule --heroku
is "$RC" 0 "--heroku exits 0"
like "$OUT" "Every day at 01:00 UTC +jobrun tick --entry prune +# jobrun prune " "prune daily"
like "$OUT" "Every day at 02:00 UTC +jobrun tick --entry primecache +# jobrun primecache --limit 180 " "primecache daily"
like "$OUT" "Every day at 04:00 UTC +jobrun tick --entry orphans-days-7 +# jobrun orphans --days 7 " "orphans daily"
like "$OUT" "Every 10 minutes +jobrun tick +# the 7 entries below" "the tick for the rest"
like "$OUT" "sync-game-weeknight +\*/5 20-22 \* \* mon,thu \(America/New_York\)" "game days run by the tick"

done_testing
