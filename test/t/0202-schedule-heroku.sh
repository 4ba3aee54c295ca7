#!/bin/bash
# jobrun schedule --heroku: where Scheduler can say the same thing in UTC, a
# Scheduler entry `jobrun tick --entry NAME` (never the job's own command,
# which claims no slot and would run twice next to the tick); one plain
# `jobrun tick` for the rest, and why, per entry.
. "$(dirname "$0")/lib.sh"
plan 18

F="$T_TMP/jobrun.cron"
export JOBRUN_SCHEDULE="$F"
cat >"$F" <<'C'
0 2 * * * jobrun primecache --limit 180
*/10 * * * * jobrun prune --older-than 1d
20 * * * * jobrun prune --older-than 2d
15 * * * * jobrun prune --older-than 3d
0 3 * * sun jobrun primecache --force-volumes
0 0 1 * * jobrun prune --older-than 90d
45 1 * * * jobrun prune --older-than 4d
CRON_TZ=Asia/Tokyo
30 11 * * * jobrun prune --older-than 5d
CRON_TZ=America/New_York
0 2 * * * jobrun prune --older-than 6d
C

run_jobrun schedule --heroku
is "$RC" 0 "--heroku exits 0"
like "$OUT" "Every day at 02:00 UTC +jobrun tick --entry primecache +# jobrun primecache --limit 180 \(0 2 \* \* \* UTC\)" "daily at HH:00 UTC, as a tick over the entry"
like "$OUT" "Every 10 minutes +jobrun tick --entry prune-older-than-1d +# jobrun prune --older-than 1d " "every 10 minutes"
like "$OUT" "Every hour at :20 +jobrun tick --entry prune-older-than-2d " "hourly at :20"
like "$OUT" "Every day at 02:30 UTC +jobrun tick --entry prune-older-than-5d " "a zone without DST shifts to UTC (11:30 Tokyo)"
like "$OUT" "Every 10 minutes +jobrun tick +# the 5 entries below, and any above Scheduler missed" "one tick for the rest"
like "$OUT" "prune-older-than-3d +15 \* \* \* \* \(UTC\): Scheduler offers" ":15 is not on Scheduler's grid"
like "$OUT" "primecache-force-volumes +0 3 \* \* sun \(UTC\): not every day" "weekly goes to the tick"
like "$OUT" "prune-older-than-90d +0 0 1 \* \* \(UTC\): not every day" "monthly goes to the tick"
like "$OUT" "prune-older-than-4d +45 1 \* \* \* \(UTC\): Scheduler offers" "01:45 is not on the daily grid"
like "$OUT" "prune-older-than-6d +0 2 \* \* \* \(America/New_York\): America/New_York changes its UTC offset" "a DST zone goes to the tick"

unlike "$OUT" "(Every [^#]*jobrun (primecache|prune) )" "no Scheduler entry is a job's own command line"
like "$OUT" "Do not enter the job commands themselves: they claim no slot" "and it says why"

run_jobrun schedule --heroku --json
is "$(jf '[(s["entry"], s["frequency"]) for s in d["scheduler"]]')" \
	"[('primecache', 'Every day at 02:00 UTC'), ('prune-older-than-1d', 'Every 10 minutes'), ('prune-older-than-2d', 'Every hour at :20'), ('prune-older-than-5d', 'Every day at 02:30 UTC')]" \
	"--json: the Scheduler entries"
is "$(jf '[(s["command"], s["runs"]) for s in d["scheduler"]][0]')" \
	"('jobrun tick --entry primecache', 'jobrun primecache --limit 180')" \
	"--json: each is a tick over its entry, and says what that runs"
is "$(jf 'd["tick"]["command"], [t["entry"] for t in d["tick"]["entries"]]')" \
	"jobrun tick ['prune-older-than-3d', 'primecache-force-volumes', 'prune-older-than-90d', 'prune-older-than-4d', 'prune-older-than-6d']" \
	"--json: the tick and its entries"

# Every entry on Scheduler's grid: the plain tick is optional, a second
# chance for a run Scheduler misses.
cat >"$F" <<'C'
0 2 * * * jobrun primecache --limit 180
C
run_jobrun schedule --heroku
like "$OUT" "Every 10 minutes +jobrun tick +# optional: runs an entry above that Scheduler missed" "the tick is optional when Scheduler can say everything"
run_jobrun schedule --heroku --json
is "$(jf 'd["tick"]["required"], d["tick"]["entries"], d["tick"]["command"]')" "False [] jobrun tick" "--json: tick not required, no entries of its own"

done_testing
