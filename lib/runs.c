#include "runs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "redact.h"
#include "xalloc.h"

static const char *const status_names[] = {
	[RUN_RUNNING] = "running",	   [RUN_SUCCEEDED] = "succeeded", [RUN_FAILED] = "failed",
	[RUN_PARTIAL] = "partial",	   [RUN_INTERRUPTED] = "interrupted",
	[RUN_SKIPPED] = "skipped",	   [RUN_ABANDONED] = "abandoned",
};

const char *run_status_name(enum run_status s)
{
	return status_names[s];
}

int run_status_parse(const char *s, enum run_status *out)
{
	for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++) {
		if (!strcmp(s, status_names[i])) {
			*out = (enum run_status)i;
			return 0;
		}
	}
	return -1;
}

/* Where the run happened: Heroku's DYNO, else the host name. */
static void where(char *dyno, size_t dlen, char *host, size_t hlen, char *pid, size_t plen)
{
	const char *d = config_get("DYNO");
	snprintf(dyno, dlen, "%s", d ? d : "");
	if (gethostname(host, hlen))
		host[0] = '\0';
	host[hlen - 1] = '\0';
	snprintf(pid, plen, "%ld", (long)getpid());
}

static char *entry_name; /* the schedule entry this process's runs belong to */

void runs_set_entry(const char *entry)
{
	free(entry_name);
	entry_name = entry && *entry ? xstrdup(entry) : NULL;
}

static char *args_text(json_t *args)
{
	char *raw = args ? json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	char *safe = redact_string(raw ? raw : "{}");
	free(raw);
	return safe;
}

static long long insert_run(struct db *db, const char *job, const char *lock_key, json_t *args,
			    const char *status, const char *reason)
{
	char dyno[64], host[256], pid[24];
	where(dyno, sizeof(dyno), host, sizeof(host), pid, sizeof(pid));
	char *args_json = args_text(args);
	const char *params[] = { job, lock_key, args_json, status, reason, *dyno ? dyno : NULL,
				 host, pid, entry_name };
	struct db_result *r = db_query(
		db,
		"INSERT INTO jobrun.runs (job, lock_key, args, status, error, dyno, host, pid, entry, "
		"                         finished_at) "
		"VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8::integer, $9, "
		"        CASE WHEN $4 = 'running' THEN NULL ELSE now() END) "
		/* A running row takes its run lock in the statement that
		 * creates it: before the row is visible to anyone, so no other
		 * run can ever see it running with its lock free. */
		"RETURNING id, $4 <> 'running' "
		"OR pg_try_advisory_lock(hashtextextended('jobrun.run:' || id, 0))",
		9, params);
	free(args_json);
	if (!r)
		return -1;
	long long id = db_ll(r, 0, 0, -1);
	bool held = db_bool(r, 0, 1);
	db_result_free(r);
	if (id > 0 && !held)
		return error("could not take the lock of run %lld", id);
	return id;
}

int runs_begin(struct db *db, struct run *run, const char *job, const char *lock_key, json_t *args)
{
	memset(run, 0, sizeof(*run));
	snprintf(run->job, sizeof(run->job), "%s", job);
	snprintf(run->lock_key, sizeof(run->lock_key), "%s", lock_key);
	run->started_mono = clock_mono();
	run->summary = json_object();
	run->id = insert_run(db, job, lock_key, args, "running", NULL);
	return run->id > 0 ? 0 : -1;
}

int runs_finish(struct db *db, struct run *run, enum run_status status, const char *error)
{
	char id[24], n[4][24];
	snprintf(id, sizeof(id), "%lld", run->id);
	snprintf(n[0], sizeof(n[0]), "%lld", run->processed);
	snprintf(n[1], sizeof(n[1]), "%lld", run->succeeded);
	snprintf(n[2], sizeof(n[2]), "%lld", run->failed);
	snprintf(n[3], sizeof(n[3]), "%lld", run->api_requests);
	char *raw = json_dumps(run->summary, JSON_COMPACT | JSON_SORT_KEYS);
	char *summary = redact_string(raw ? raw : "{}");
	char *safe_error = error ? redact_string(error) : NULL;
	free(raw);
	const char *params[] = { id, run_status_name(status), n[0], n[1], n[2], n[3], summary, safe_error };
	int ret = db_exec(db,
			  "UPDATE jobrun.runs SET status = $2, finished_at = now(), "
			  "items_processed = $3, items_succeeded = $4, items_failed = $5, "
			  "api_requests = $6, summary = $7::jsonb, error = $8 WHERE id = $1",
			  8, params);
	free(summary);
	free(safe_error);
	return ret;
}

long long runs_record_skipped(struct db *db, const char *job, const char *lock_key, json_t *args,
			      const char *reason)
{
	return insert_run(db, job, lock_key, args, "skipped", reason);
}

int runs_mark_abandoned(struct db *db, const char *lock_key, const char *job, long long except_id,
			long long *count)
{
	char id[24];
	snprintf(id, sizeof(id), "%lld", except_id);
	const char *params[] = { lock_key, id, job };
	/* A transaction-level try-lock on a run's key succeeds only when no
	 * session holds it, i.e. its process is gone; it is released when this
	 * statement ends. Holding the job's lock proves nothing about runs that
	 * take their locks per unit, so the run lock decides for every row. */
	struct db_result *r = db_query(
		db,
		"UPDATE jobrun.runs SET status = 'abandoned', finished_at = now(), "
		"error = coalesce(error, 'process ended without finishing its run record') "
		"WHERE status = 'running' AND id <> $2::bigint "
		"AND (job = $3 OR lock_key = $1) "
		"AND pg_try_advisory_xact_lock(hashtextextended('jobrun.run:' || id, 0))",
		3, params);
	if (!r)
		return -1;
	*count = db_affected(r);
	db_result_free(r);
	return 0;
}

void runs_release(struct run *run)
{
	json_decref(run->summary);
	run->summary = NULL;
}

const struct history_table runs_history = {
	.name = "runs",
	.count_sql = "SELECT count(*) FROM jobrun.runs WHERE status <> 'running' "
		     "AND started_at < now() - make_interval(secs => $1::double precision)",
	.delete_sql = "DELETE FROM jobrun.runs WHERE id IN (SELECT id FROM jobrun.runs "
		      "WHERE status <> 'running' "
		      "AND started_at < now() - make_interval(secs => $1::double precision) "
		      "AND id <> $3::bigint LIMIT $2::bigint)",
};
