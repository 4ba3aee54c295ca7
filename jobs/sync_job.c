/*
 * sync's registry entry: the configuration it checks before the run, how
 * the run is recorded, and the history prune trims (sync_logs).
 */
#include <stdlib.h>
#include <string.h>

#include "sync.h"
#include "sync_internal.h"
#include "xalloc.h"

int sync_op_parse(const char *name)
{
	for (int i = 0; i < SYNC_NOPS; i++)
		if (!strcmp(sync_ops[i].name, name))
			return i;
	return -1;
}

const char *sync_op_name(enum sync_op_id op)
{
	return sync_ops[op].name;
}

int sync_ops_parse(const char *list, unsigned *mask, char **bad)
{
	char *copy = xstrdup(list), *save = NULL;
	*mask = 0;
	*bad = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int op = sync_op_parse(tok);
		if (op < 0) {
			*bad = xstrdup(tok);
			free(copy);
			return -1;
		}
		*mask |= 1u << op;
	}
	free(copy);
	if (!*mask) {
		*bad = xstrdup(list);
		return -1;
	}
	return 0;
}

static int sync_prepare(void *opts)
{
	struct sync_options *o = opts;
	return shipstation_config_from_env(&o->ss);
}

static enum run_status sync_job_run(struct task *t, void *opts)
{
	return sync_run(t, opts);
}

static void sync_release(void *opts)
{
	struct sync_options *o = opts;
	shipstation_config_release(&o->ss);
}

static json_t *sync_args(const void *opts)
{
	const struct sync_options *o = opts;
	json_t *names = json_array(), *ops = json_array();
	for (int i = 0; i < o->n_integrations; i++)
		json_array_append_new(names, json_string(o->integrations[i]));
	for (int i = 0; i < SYNC_NOPS; i++)
		if (o->ops & (1u << i))
			json_array_append_new(ops, json_string(sync_ops[i].name));
	return json_pack("{s:o, s:o, s:b, s:I}", "integrations", names, "only", ops, "dry_run",
			 o->dry_run, "concurrency", (json_int_t)o->concurrency);
}

static bool sync_dry_run(const void *opts)
{
	return ((const struct sync_options *)opts)->dry_run;
}

/* The Node script's weekly DELETE ... < NOW() - INTERVAL '30 days', now
 * prune's cutoff (--older-than, 30 days by default), in batches. */
static const struct history_table sync_history[] = {
	{ .name = "sync_logs",
	  .count_sql = "SELECT count(*) FROM shipstation.sync_logs "
		       "WHERE \"timestamp\" < now() - make_interval(secs => $1::double precision)",
	  .delete_sql = "DELETE FROM shipstation.sync_logs WHERE id IN (SELECT id FROM "
			"shipstation.sync_logs WHERE \"timestamp\" < now() - "
			"make_interval(secs => $1::double precision) "
			"AND run_id IS DISTINCT FROM $3::bigint LIMIT $2::bigint)" },
	{ 0 },
};

const struct job sync_job = {
	.name = "sync",
	.summary = "mirror every active ShipStation integration into Postgres",
	.lock = JOB_LOCK_OWN,
	.prepare = sync_prepare,
	.run = sync_job_run,
	.release = sync_release,
	.args = sync_args,
	.dry_run = sync_dry_run,
	.history = sync_history,
};
