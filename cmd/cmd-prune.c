#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "db.h"
#include "deadline.h"
#include "log.h"
#include "options.h"
#include "task.h"

const char usage_prune[] =
	"usage: jobrun prune [--older-than D] [--dry-run] [--batch N]\n"
	"\n"
	"Delete finished run records older than D (default 30d) in batches of N\n"
	"(default 1000), each batch its own transaction, so a long prune never holds\n"
	"locks for long and can be stopped at any time.\n"
	"\n"
	"  --dry-run   count what would be deleted, delete nothing\n";

/* What prune deletes. Jobs that keep history of their own (sync logs,
 * orphan findings) add a row here. */
struct prune_target {
	const char *name;
	const char *count_sql;  /* $1: cutoff in seconds */
	const char *delete_sql; /* $1: cutoff, $2: batch size */
};

static const struct prune_target targets[] = {
	{ "runs",
	  "SELECT count(*) FROM jobrun.runs WHERE status <> 'running' "
	  "AND started_at < now() - make_interval(secs => $1::double precision)",
	  "DELETE FROM jobrun.runs WHERE id IN (SELECT id FROM jobrun.runs WHERE status <> 'running' "
	  "AND started_at < now() - make_interval(secs => $1::double precision) "
	  "AND id <> $3::bigint LIMIT $2::bigint)" },
};

static int count_target(struct db *db, const struct prune_target *tg, const char *cutoff,
			long long *count)
{
	const char *params[] = { cutoff };
	struct db_result *r = db_query(db, tg->count_sql, 1, params);
	if (!r)
		return -1;
	*count = db_ll(r, 0, 0, 0);
	db_result_free(r);
	return 0;
}

static int delete_target(struct db *db, const struct prune_target *tg, const char *cutoff,
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
		struct db_result *r = db_query(db, tg->delete_sql, 3, params);
		if (!r)
			return -1;
		long long n = db_affected(r);
		db_result_free(r);
		*deleted += n;
		if (n < batch)
			return 0;
	}
}

static enum run_status prune_all(struct task *t, double older_than, bool dry_run, long batch)
{
	char cutoff[32];
	snprintf(cutoff, sizeof(cutoff), "%.0f", older_than);
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		long long n = 0;
		int r = dry_run ? count_target(t->db, &targets[i], cutoff, &n)
				: delete_target(t->db, &targets[i], cutoff, batch, t->run.id, &n);
		if (r < 0)
			return RUN_FAILED;
		json_object_set_new(t->run.summary, targets[i].name, json_integer(n));
		t->run.processed += n;
		t->run.succeeded += n;
		log_info(dry_run ? "would delete" : "deleted", LF_S("what", targets[i].name),
			 LF_I("count", n));
		if (r > 0)
			return RUN_INTERRUPTED;
	}
	return RUN_SUCCEEDED;
}

int cmd_prune(int argc, char **argv, struct global_options *g)
{
	double older_than = 30 * 86400.0;
	bool dry_run = false;
	long batch = 1000;
	const struct opt opts[] = {
		OPT_DURATION("older-than", &older_than), OPT_FLAG("dry-run", 'n', &dry_run),
		OPT_LONG("batch", &batch), OPT_TABLE_END,
	};
	int n = parse_options(argc, argv, opts, g, usage_prune);
	if (n < 0)
		return options_exit_code(n);
	if (n > 0)
		return usage_error(usage_prune, "prune takes no arguments");
	if (batch < 1)
		return usage_error(usage_prune, "--batch must be at least 1");
	deadline_start(g->max_runtime_s);

	struct task t;
	struct task_options to = { .job = "prune", .json = g->json, .dry_run = dry_run };
	to.args = json_pack("{s:f, s:b}", "older_than_s", older_than, "dry_run", dry_run);
	int code;
	if (command_start_task(&t, &to, &code))
		return code;
	enum run_status status = prune_all(&t, older_than, dry_run, batch);
	return exit_code_for_run(task_end(&t, status, status == RUN_FAILED ? error_last() : NULL));
}
