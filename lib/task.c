#include "task.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "db.h"
#include "deadline.h"
#include "http.h"
#include "log.h"
#include "migrate.h"
#include "redact.h"
#include "xalloc.h"

int task_statement_timeout(double *out)
{
	return config_get_duration("JOBRUN_STATEMENT_TIMEOUT", TASK_DEFAULT_STATEMENT_TIMEOUT_S, out);
}

static int open_db(struct db **out)
{
	double timeout;
	if (task_statement_timeout(&timeout))
		return -1;
	return db_open(out, timeout);
}

/* A job needs every migration this binary knows, and none it does not know:
 * a newer jobrun may have changed what this one would write. */
static int check_schema(struct db *db)
{
	int current = migrate_current_version(db);
	if (current < 0 || migrate_refuse_newer(current))
		return -1;
	if (current < migrate_latest_version())
		return error("database schema is at version %d but this jobrun needs %d: run 'jobrun migrate'",
			     current, migrate_latest_version());
	return 0;
}

static enum task_start skip(struct task *t)
{
	char reason[256];
	snprintf(reason, sizeof(reason), "another instance holds the lock '%s'", t->lock_key);
	log_warn("skipped: another instance is running", LF_S("lock", t->lock_key));
	t->run.id = runs_record_skipped(t->db, t->opt.job, t->lock_key, t->opt.args, reason);
	return t->run.id > 0 ? TASK_SKIPPED : TASK_FAILED;
}

enum task_start task_begin(struct task *t, const struct task_options *opt)
{
	memset(t, 0, sizeof(*t));
	t->opt = *opt;
	json_incref(t->opt.args);
	snprintf(t->lock_key, sizeof(t->lock_key), "%s", opt->lock_key ? opt->lock_key : opt->job);
	log_set_context(opt->job, 0);

	/* Every setting is checked before the lock is taken and the run
	 * recorded: a typo in JOBRUN_HTTP_* must not leave a failed run behind.
	 * task_http() reads the same environment again. */
	struct http_config http_cfg;
	if (http_config_from_env(&http_cfg))
		return TASK_FAILED;
	if (open_db(&t->db) || check_schema(t->db))
		return TASK_FAILED;
	if (!opt->own_locks) {
		if (db_try_lock(t->db, t->lock_key, &t->locked))
			return TASK_FAILED;
		if (!t->locked)
			return skip(t);
	}
	if (runs_begin(t->db, &t->run, opt->job, t->lock_key, t->opt.args))
		return TASK_FAILED;
	t->started = true;
	log_set_context(opt->job, t->run.id);

	long long abandoned = 0;
	if (runs_mark_abandoned(t->db, t->lock_key, opt->job, t->run.id, &abandoned))
		return TASK_FAILED;
	if (abandoned)
		log_warn("marked runs of a dead process abandoned", LF_I("count", abandoned));
	log_info("run started", LF_B("dry_run", opt->dry_run));
	return TASK_STARTED;
}

int task_lock(struct task *t, const char *key)
{
	bool acquired;
	if (db_try_lock(t->db, key, &acquired))
		return -1;
	if (!acquired) {
		log_warn("another instance holds the lock", LF_S("lock", key));
		return 1;
	}
	t->n_locks++;
	return 0;
}

void task_problem(struct task *t, const char *fmt, ...)
{
	char raw[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	char *safe = redact_string(raw);
	log_warn("problem", LF_S("error", safe));
	if (!t->problems++)
		snprintf(t->problem, sizeof(t->problem), "%s", safe);
	free(safe);
}

struct http_client *task_http_client(struct task *t, const struct http_hooks *hooks)
{
	if (t->n_clients >= TASK_MAX_CLIENTS) {
		error("too many http clients in one run (at most %d)", TASK_MAX_CLIENTS);
		return NULL;
	}
	struct http_config cfg;
	if (http_config_from_env(&cfg))
		return NULL;
	return t->clients[t->n_clients++] = http_client_new(&cfg, hooks);
}

struct http_client *task_http(struct task *t, const struct http_hooks *hooks)
{
	if (!t->http)
		t->http = task_http_client(t, hooks);
	return t->http;
}

struct db *task_rl_db(struct task *t)
{
	if (!t->rl_db && open_db(&t->rl_db))
		return NULL;
	return t->rl_db;
}

static void print_metrics(const struct task *t, double duration)
{
	char k[5][128], dur[32];
	const char *job = t->opt.job;
	snprintf(k[0], sizeof(k[0]), "count#jobrun.%s.items_processed", job);
	snprintf(k[1], sizeof(k[1]), "count#jobrun.%s.items_succeeded", job);
	snprintf(k[2], sizeof(k[2]), "count#jobrun.%s.items_failed", job);
	snprintf(k[3], sizeof(k[3]), "count#jobrun.%s.api_requests", job);
	snprintf(k[4], sizeof(k[4]), "measure#jobrun.%s.duration", job);
	snprintf(dur, sizeof(dur), "%.3fs", duration);
	log_info("metrics", LF_I(k[0], t->run.processed), LF_I(k[1], t->run.succeeded),
		 LF_I(k[2], t->run.failed), LF_I(k[3], t->run.api_requests), LF_S(k[4], dur));
}

static void print_json(const struct task *t, enum run_status status, const char *err, double duration)
{
	json_t *summary = t->run.summary ? json_incref(t->run.summary) : json_object();
	json_t *o = json_pack("{s:s, s:I, s:s, s:f, s:I, s:I, s:I, s:I, s:b, s:o}", "job", t->opt.job,
			      "run_id", (json_int_t)t->run.id, "status", run_status_name(status),
			      "duration_s", duration, "items_processed", (json_int_t)t->run.processed,
			      "items_succeeded", (json_int_t)t->run.succeeded, "items_failed",
			      (json_int_t)t->run.failed, "api_requests", (json_int_t)t->run.api_requests,
			      "dry_run", t->opt.dry_run, "summary", summary);
	if (!o)
		return;
	json_object_set_new(o, "error", err ? json_string(err) : json_null());
	char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	json_decref(o);
	if (text) {
		char *safe = redact_string(text);
		printf("%s\n", safe);
		fflush(stdout);
		free(safe);
		free(text);
	}
}

static void release(struct task *t)
{
	for (int i = 0; i < t->n_clients; i++)
		http_client_free(t->clients[i]);
	t->n_clients = 0;
	db_close(t->rl_db);
	db_close(t->db); /* ends the session: the advisory lock goes with it */
	runs_release(&t->run);
	json_decref(t->opt.args);
	t->http = NULL;
	t->rl_db = t->db = NULL;
}

/* The work connection is gone (the server restarted, an operator ended the
 * session): so is the lock. Record the failure on one new connection rather
 * than on the limiter's: that one may not exist (dry runs, jobs without a
 * provider) and goes down with the same server. One attempt, not more: a
 * database that stays away leaves the row `running`, and the next run marks
 * it abandoned. */
static int finish_record(struct task *t, enum run_status *status, const char **err, char **lost_err)
{
	if (!db_is_lost(t->db) && !runs_finish(t->db, &t->run, *status, *err))
		return 0;
	if (!db_is_lost(t->db))
		return -1;
	/* Whatever the job concluded, its session (and its lock) ended under
	 * it: the run failed, and the cause must survive. The first report of
	 * the loss says most; the job's own error may be a consequence. */
	*status = RUN_FAILED;
	const char *last = error_last();
	if (!*err || !strstr(*err, "connection lost"))
		*err = *lost_err = last && strstr(last, "connection lost")
					   ? xstrdup(last)
					   : xasprintf("database connection lost%s%s", *err ? ": " : "",
						       *err ? *err : "");
	log_warn("lost the database connection; recording the run on a new one",
		 LF_I("run", t->run.id));
	db_close(t->db);
	t->db = NULL;
	if (open_db(&t->db))
		return -1;
	return runs_finish(t->db, &t->run, *status, *err);
}

enum run_status task_end(struct task *t, enum run_status status, const char *err)
{
	if (!t->started) {
		/* Skipped, or never got going: callers reading --json still get
		 * their one object. */
		if (t->opt.json)
			print_json(t, status, err, 0);
		release(t);
		return status;
	}
	if (status == RUN_FAILED && !db_is_lost(t->db) && deadline_should_stop() &&
		   (db_was_stopped(t->db) || db_was_stopped(t->rl_db))) {
		/* The job failed only because the stop cancelled its wait on
		 * the database (another session's lock, a slow statement). */
		status = RUN_INTERRUPTED;
	}
	double duration = clock_mono() - t->run.started_mono;
	t->run.api_requests = 0;
	for (int i = 0; i < t->n_clients; i++)
		t->run.api_requests += http_client_attempts(t->clients[i]);
	enum stop_reason reason = deadline_reason();
	if (reason != STOP_NONE)
		json_object_set_new(t->run.summary, "stopped_by", json_string(deadline_reason_name(reason)));
	if (t->problems)
		json_object_set_new(t->run.summary, "problems", json_integer(t->problems));
	if (!err && status != RUN_SUCCEEDED && t->problems)
		err = t->problem;
	char *lost_err = NULL;
	if (finish_record(t, &status, &err, &lost_err))
		log_error("could not finish the run record", LF_I("run", t->run.id));
	log_progress_done();
	log_info("run finished", LF_S("status", run_status_name(status)),
		 LF_I("processed", t->run.processed), LF_I("succeeded", t->run.succeeded),
		 LF_I("failed", t->run.failed), LF_I("api_requests", t->run.api_requests),
		 LF_F("duration_s", duration));
	print_metrics(t, duration);
	if (t->opt.json)
		print_json(t, status, err, duration);
	release(t);
	free(lost_err);
	return status;
}
