/*
 * prune: the history tables come from their owners — run records from
 * lib/runs, the rest from each registered job — and are trimmed one batch
 * per statement.
 */
#include "prune.h"

#include <stdio.h>

#include "db.h"
#include "deadline.h"
#include "log.h"
#include "task.h"

static int count_table(struct db *db, const struct history_table *h, const char *cutoff,
		       long long *count)
{
	const char *params[] = { cutoff };
	struct db_result *r = db_query(db, h->count_sql, 1, params);
	if (!r)
		return -1;
	*count = db_ll(r, 0, 0, 0);
	db_result_free(r);
	return 0;
}

/* 0 when done, 1 when a stop request cut it short, -1 on error. */
static int delete_table(struct db *db, const struct history_table *h, const char *cutoff,
			long batch, long long self, long long *deleted)
{
	char batch_text[24], self_text[24];
	snprintf(batch_text, sizeof(batch_text), "%ld", batch);
	snprintf(self_text, sizeof(self_text), "%lld", self);
	const char *params[] = { cutoff, batch_text, self_text };
	*deleted = 0;
	for (;;) {
		if (deadline_should_stop())
			return 1;
		struct db_result *r = db_query(db, h->delete_sql, 3, params);
		if (!r)
			return -1;
		long long n = db_affected(r);
		db_result_free(r);
		*deleted += n;
		if (n < batch)
			return 0;
	}
}

/* -1 on error, 1 when stopped, else 0. */
static int prune_table(struct task *t, const struct prune_options *o, const struct history_table *h,
		       const char *cutoff)
{
	long long n = 0;
	int r = o->dry_run ? count_table(t->db, h, cutoff, &n)
			   : delete_table(t->db, h, cutoff, o->batch, t->run.id, &n);
	if (r < 0)
		return -1;
	json_object_set_new(t->run.summary, h->name, json_integer(n));
	t->run.processed += n;
	t->run.succeeded += n;
	log_info(o->dry_run ? "would delete" : "deleted", LF_S("what", h->name), LF_I("count", n));
	return r;
}

static enum run_status prune_run(struct task *t, void *opts)
{
	const struct prune_options *o = opts;
	char cutoff[32];
	snprintf(cutoff, sizeof(cutoff), "%.0f", o->older_than_s);
	int r = prune_table(t, o, &runs_history, cutoff);
	for (const struct job *const *j = job_registry; !r && *j; j++)
		for (const struct history_table *h = (*j)->history; !r && h && h->name; h++)
			r = prune_table(t, o, h, cutoff);
	return r < 0 ? RUN_FAILED : r > 0 ? RUN_INTERRUPTED : RUN_SUCCEEDED;
}

static json_t *prune_args(const void *opts)
{
	const struct prune_options *o = opts;
	return json_pack("{s:f, s:b}", "older_than_s", o->older_than_s, "dry_run", o->dry_run);
}

static bool prune_dry_run(const void *opts)
{
	return ((const struct prune_options *)opts)->dry_run;
}

const struct job prune_job = {
	.name = "prune",
	.summary = "delete old run records and job history",
	.run = prune_run,
	.args = prune_args,
	.dry_run = prune_dry_run,
};
