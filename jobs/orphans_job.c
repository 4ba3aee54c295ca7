/*
 * orphans' registry entry: the configuration it checks before the run, how
 * the run is recorded, and the history prune trims.
 */
#include "orphans.h"

#include "config.h"
#include "log.h"

static int orphans_prepare(void *opts)
{
	struct orphans_options *o = opts;
	if (!o->report_dir && !(o->report_dir = config_get("JOBRUN_REPORT_DIR")))
		o->report_dir = "reports";
	/* A dry run lists too (it reads, writes nothing): it needs the credentials. */
	if (cloudinary_config_from_env(&o->cld, true))
		return -1;
	/* Read now, so a malformed SMTP_URL fails before any work; without any
	 * transport the findings are still saved and reported. */
	o->mail_on = !o->dry_run && mail_configured();
	if (o->mail_on && mail_config_from_env(&o->mail)) {
		cloudinary_config_release(&o->cld);
		return -1;
	}
	return 0;
}

static enum run_status orphans_job_run(struct task *t, void *opts)
{
	return orphans_run(t, opts);
}

static void orphans_release(void *opts)
{
	struct orphans_options *o = opts;
	cloudinary_config_release(&o->cld);
	if (o->mail_on)
		mail_config_release(&o->mail);
}

static json_t *orphans_args(const void *opts)
{
	const struct orphans_options *o = opts;
	char types[32];
	orphans_types_key(o->types, types, sizeof(types));
	return json_pack("{s:I, s:s, s:f, s:s, s:b, s:I, s:f, s:b, s:I}", "days", (json_int_t)o->days,
			 "types", types, "min_age_s", o->min_age_s, "report_dir", o->report_dir,
			 "delete", o->delete, "max_delete", (json_int_t)o->max_delete,
			 "max_orphan_ratio", o->max_orphan_ratio, "dry_run", o->dry_run, "limit",
			 (json_int_t)o->limit);
}

static bool orphans_dry_run(const void *opts)
{
	return ((const struct orphans_options *)opts)->dry_run;
}

/* Findings that were resolved (referenced again) or deleted age out; open
 * ones stay however old: "seen for a month" is what an operator asks. The
 * scan state is one row per (types, days) and needs no pruning. */
static const struct history_table orphans_history[] = {
	{
		.name = "orphans",
		.count_sql = "SELECT count(*) FROM jobrun.orphans WHERE (resolved_at IS NOT NULL "
			     "OR deleted_at IS NOT NULL) AND coalesce(deleted_at, resolved_at) "
			     "< now() - make_interval(secs => $1::double precision)",
		.delete_sql = "DELETE FROM jobrun.orphans WHERE id IN (SELECT id FROM jobrun.orphans "
			      "WHERE (resolved_at IS NOT NULL OR deleted_at IS NOT NULL) "
			      "AND coalesce(deleted_at, resolved_at) "
			      "< now() - make_interval(secs => $1::double precision) "
			      "AND $3::bigint IS NOT NULL LIMIT $2::bigint)",
	},
	{ 0 },
};

const struct job orphans_job = {
	.name = "orphans",
	.summary = "find (and optionally delete) Cloudinary files no database row references",
	.prepare = orphans_prepare,
	.run = orphans_job_run,
	.release = orphans_release,
	.args = orphans_args,
	.dry_run = orphans_dry_run,
	.history = orphans_history,
};
