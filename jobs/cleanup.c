/*
 * cleanup: the run. Phase "assets" deletes the expired items' assets 100
 * per call, grouped by (resource type, delivery type); phase "purge" hands
 * the items whose every asset is gone to jobrun.purge_items(), a batch per
 * transaction. Then the summary: log, run record, --json, mail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cleanup_internal.h"
#include "config.h"
#include "db.h"
#include "deadline.h"
#include "log.h"
#include "task.h"

/* A Cloudinary reset is waited for within the run's time budget (the
 * deadline cuts this): an hour's window is worth the wait when it ends
 * before the run must. */
#define CL_MAX_SLOT_WAIT_S 86400.0

static const char *stop_name(enum cl_stop s)
{
	switch (s) {
	case CL_STOP_NONE: return "done";
	case CL_STOP_LIMIT: return "limit";
	case CL_STOP_RATE_LIMITED: return "rate_limited";
	case CL_STOP_BUDGET: return "budget";
	case CL_STOP_FAILING: return "failing";
	case CL_STOP_DEADLINE: return "deadline";
	case CL_STOP_SIGTERM: return "sigterm";
	case CL_STOP_SIGINT: return "sigint";
	case CL_STOP_ERROR: return "error";
	}
	return "?";
}

static void stop(struct cl_run *r, enum cl_stop why)
{
	if (r->stop == CL_STOP_NONE)
		r->stop = why;
}

static void stop_deadline(struct cl_run *r)
{
	switch (deadline_reason()) {
	case STOP_SIGTERM: stop(r, CL_STOP_SIGTERM); break;
	case STOP_SIGINT: stop(r, CL_STOP_SIGINT); break;
	default: stop(r, CL_STOP_DEADLINE); break;
	}
}

static bool interrupted(const struct cl_run *r)
{
	return r->stop == CL_STOP_DEADLINE || r->stop == CL_STOP_SIGTERM || r->stop == CL_STOP_SIGINT;
}

static bool must_stop(struct cl_run *r)
{
	if (r->stop != CL_STOP_NONE)
		return true;
	if (deadline_should_stop()) {
		stop_deadline(r);
		return true;
	}
	return false;
}

static void fatal(struct cl_run *r)
{
	r->fatal = true;
	stop(r, CL_STOP_ERROR);
}

/* ------------------------------------------------------------- assets */

/* A call that got no per-id answer. Its ids fail for this run (the next
 * retries them) unless the run is stopping, which leaves them unasked. */
static int call_failed(struct cl_run *r, enum provider_result res, const char *err,
		       const char *type, const char *delivery, const char *const *ids, size_t n)
{
	enum cloudinary_deleted failed[CLOUDINARY_DELETE_MAX];
	switch (res) {
	case PROVIDER_BAD_CREDENTIALS:
	case PROVIDER_CONFIG:
		fatal(r);
		return config_error("%s", err);
	case PROVIDER_STOPPED:
		/* Before the deadline itself: the limiter found the window's
		 * reopening past it, which is the budget's doing. */
		if (deadline_reason() == STOP_NONE)
			stop(r, r->cld.rate_limited ? CL_STOP_RATE_LIMITED : CL_STOP_BUDGET);
		else
			stop_deadline(r);
		log_info("Cloudinary calls stopped for this run", LF_S("reason", err));
		return 0;
	case PROVIDER_STOP_BUCKET:
		stop(r, r->cld.prov.budget_spent ? CL_STOP_LIMIT
			: r->cld.rate_limited	 ? CL_STOP_RATE_LIMITED
						 : CL_STOP_BUDGET);
		log_info("Cloudinary calls stopped for this run", LF_S("reason", err));
		return 0;
	default:
		break;
	}
	for (size_t i = 0; i < n; i++)
		failed[i] = CLD_FAILED;
	r->failed_calls++;
	task_problem(r->t, "delete of %zu %s assets failed: %s", n, type, err);
	if (res == PROVIDER_CUT_OFF)
		stop(r, CL_STOP_LIMIT);
	return cl_record(r, type, delivery, ids, failed, n, err);
}

/* One delete call for a batch. A rate-limit answer whose reset lies within
 * the run's time budget is waited for once more (the limiter holds the
 * call until the window reopens); past it the run stops, keeping its work. */
static int delete_batch(struct cl_run *r, const char *type, const char *delivery,
			const char *const *ids, size_t n, int *failures_in_row)
{
	enum cloudinary_deleted states[CLOUDINARY_DELETE_MAX];
	char err[512];
	enum provider_result res;
	for (int attempt = 0;; attempt++) {
		res = cloudinary_delete(&r->cld, type, delivery, ids, n, states, err, sizeof(err));
		bool server_said = res == PROVIDER_STOP_BUCKET && r->cld.rate_limited &&
				   !r->cld.prov.budget_spent;
		if (!server_said || attempt > 0 || deadline_should_stop())
			break;
		log_info("Cloudinary rate limited the run; waiting for its reset if the run's time "
			 "allows", LF_S("reason", err));
	}
	r->delete_calls++;
	if (res != PROVIDER_OK) {
		*failures_in_row += res == PROVIDER_FAILED;
		return call_failed(r, res, err, type, delivery, ids, n);
	}
	*failures_in_row = 0;
	return cl_record(r, type, delivery, ids, states, n, "Cloudinary did not delete it");
}

static int delete_group(struct cl_run *r, const char *type, const char *delivery)
{
	int failures_in_row = 0;
	while (!must_stop(r)) {
		struct db_result *b = cl_batch(r, type, delivery);
		if (!b)
			return -1;
		size_t n = (size_t)db_rows(b);
		const char *ids[CLOUDINARY_DELETE_MAX];
		for (size_t i = 0; i < n; i++)
			ids[i] = db_value(b, (int)i, 0);
		int rc = n ? delete_batch(r, type, delivery, ids, n, &failures_in_row) : 0;
		db_result_free(b);
		if (rc)
			return -1;
		if (n == 0)
			return 0;
		if (failures_in_row >= CL_MAX_FAILED_CALLS) {
			stop(r, CL_STOP_FAILING);
			task_problem(r->t, "%d delete calls in a row failed: Cloudinary looks down",
				     failures_in_row);
		}
		log_progress("cleanup: %lld delete calls", r->delete_calls);
	}
	return 0;
}

static int phase_assets(struct cl_run *r)
{
	struct db_result *groups = cl_groups(r);
	if (!groups)
		return -1;
	int rc = 0;
	for (int g = 0; g < db_rows(groups) && !rc && !must_stop(r); g++)
		rc = delete_group(r, db_value(groups, g, 0), db_value(groups, g, 1));
	db_result_free(groups);
	return rc;
}

static int phase_purge(struct cl_run *r, long long *batches)
{
	long long n;
	*batches = 0;
	/* Purging is safe whatever stopped the deletes: it only takes items
	 * whose every asset is gone. A signal or deadline still ends it. */
	while (!deadline_should_stop()) {
		if (cl_purge_batch(r, &n))
			return -1;
		if (n == 0)
			return 0;
		(*batches)++;
	}
	stop_deadline(r);
	return 0;
}

/* ------------------------------------------------------------ summary */

static json_t *totals_json(const struct cl_run *r)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "expired", (json_int_t)r->assets,
			 "deleted", (json_int_t)r->deleted, "not_found", (json_int_t)r->not_found,
			 "shared", (json_int_t)r->shared, "failed", (json_int_t)r->failed_assets,
			 "left", (json_int_t)r->left_assets, "delete_calls",
			 (json_int_t)r->delete_calls);
}

static void log_failures(json_t *failures)
{
	size_t i;
	json_t *f;
	json_array_foreach(failures, i, f) {
		log_warn("asset not deleted; its item stays in the trash",
			 LF_I("item", json_integer_value(json_object_get(f, "item_id"))),
			 LF_S("public_id", json_string_value(json_object_get(f, "public_id"))),
			 LF_S("resource_type", json_string_value(json_object_get(f, "resource_type"))),
			 LF_S("reason", json_string_value(json_object_get(f, "reason"))));
	}
}

static void mail_body(const struct cl_run *r, json_t *plans, json_t *failures, const char *usage,
		      const char *status, struct buf *b)
{
	buf_addf(b, "jobrun cleanup finished: %s (%s).\n\n", status, stop_name(r->stop));
	buf_addf(b, "Items past retention: %lld\n", r->items);
	buf_addf(b, "Processed: %lld\nSucceeded (purged): %lld\nFailed (kept in the trash): %lld\n",
		 r->purged + r->failed_items, r->purged, r->failed_items);
	if (r->left_items > 0)
		buf_addf(b, "Left for the next run: %lld\n", r->left_items);
	buf_adds(b, "\nPer plan (expired / purged / failed):\n");
	const char *plan;
	json_t *v;
	json_object_foreach(plans, plan, v) {
		buf_addf(b, "  %s: %lld / %lld / %lld\n", plan,
			 (long long)json_integer_value(json_object_get(v, "expired")),
			 (long long)json_integer_value(json_object_get(v, "purged")),
			 (long long)json_integer_value(json_object_get(v, "failed")));
	}
	buf_addf(b, "\nAssets deleted: %lld (already gone: %lld, failed: %lld)\n", r->deleted,
		 r->not_found, r->failed_assets);
	buf_addf(b, "Admin API calls this run: %lld\n%s\n", r->cld.calls, usage);
	if (json_array_size(failures)) {
		buf_adds(b, "\nFailures:\n");
		size_t i;
		json_t *f;
		json_array_foreach(failures, i, f) {
			buf_addf(b, "  item %lld (%s) %s/%s: %s\n",
				 (long long)json_integer_value(json_object_get(f, "item_id")),
				 json_string_value(json_object_get(f, "label"))
					 ? json_string_value(json_object_get(f, "label")) : "",
				 json_string_value(json_object_get(f, "resource_type")),
				 json_string_value(json_object_get(f, "public_id")),
				 json_string_value(json_object_get(f, "reason")));
		}
		if ((long long)json_array_size(failures) < r->failed_assets)
			buf_addf(b, "  … and %lld more (jobrun runs shows the run)\n",
				 r->failed_assets - (long long)json_array_size(failures));
	}
}

/* Mail when anything was processed or failed; a mail that cannot be sent
 * is logged and recorded, never the run's failure. */
static void send_mail(struct cl_run *r, json_t *plans, json_t *failures, const char *usage,
		      enum run_status status)
{
	const struct cleanup_options *o = r->opt;
	if (o->dry_run || (r->purged + r->failed_items == 0 && !r->failed_calls))
		return;
	if (!o->mail) {
		log_info("no mail sent: ADMIN_EMAIL and SMTP_URL are not set");
		return;
	}
	struct buf body = BUF_INIT;
	char subject[160];
	snprintf(subject, sizeof(subject), "jobrun cleanup: %lld purged, %lld failed (%s)", r->purged,
		 r->failed_items, run_status_name(status));
	mail_body(r, plans, failures, usage, run_status_name(status), &body);
	struct mail_message msg = { .subject = subject, .body = buf_str(&body) };
	struct mail_result res;
	if (mail_send(&o->mail_cfg, &msg, &res) == 0)
		log_info("summary mailed", LF_I("recipients", (long long)res.recipients));
	json_object_set_new(r->t->run.summary, "mail", mail_result_json(&res));
	buf_release(&body);
}

static enum run_status final_status(const struct cl_run *r)
{
	if (r->fatal)
		return RUN_FAILED;
	if (deadline_reason() != STOP_NONE || interrupted(r))
		return RUN_INTERRUPTED;
	if (r->stop == CL_STOP_BUDGET && r->cld.calls == 0 && r->purged == 0)
		return RUN_SKIPPED;
	if (r->failed_items || r->left_items || r->failed_calls || r->stop != CL_STOP_NONE)
		return RUN_PARTIAL;
	return RUN_SUCCEEDED;
}

static int summarize(struct cl_run *r, enum run_status *status)
{
	json_t *plans, *failures;
	if (cl_tally(r, &plans, &failures))
		return -1;
	struct run *run = &r->t->run;
	json_t *s = run->summary;
	run->succeeded = r->purged;
	run->failed = r->failed_items;
	run->processed = r->purged + r->failed_items;
	char retention[512], usage[96];
	cleanup_retention_format(&r->opt->retention, retention, sizeof(retention));
	cloudinary_usage_text(&r->cld, usage, sizeof(usage));
	json_object_set_new(s, "retention", json_string(retention));
	json_object_set_new(s, "items", json_pack("{s:I, s:I, s:I, s:I, s:I}", "expired",
						  (json_int_t)r->items, "purged", (json_int_t)r->purged,
						  "failed", (json_int_t)r->failed_items, "left",
						  (json_int_t)r->left_items, "kept", (json_int_t)r->kept));
	json_object_set_new(s, "plans", json_incref(plans));
	json_object_set_new(s, "assets", totals_json(r));
	json_object_set_new(s, "api", cloudinary_usage_json(&r->cld));
	json_object_set_new(s, "failures", json_incref(failures));
	json_object_set_new(s, "stop_reason", json_string(stop_name(r->stop)));
	log_failures(failures);
	*status = final_status(r);
	log_info("cleanup summary", LF_I("expired", r->items), LF_I("purged", r->purged),
		 LF_I("failed", r->failed_items), LF_I("left", r->left_items),
		 LF_I("assets_deleted", r->deleted), LF_I("assets_not_found", r->not_found),
		 LF_I("assets_failed", r->failed_assets), LF_I("api_calls", r->cld.calls),
		 LF_S("usage", usage), LF_S("stop_reason", stop_name(r->stop)));
	send_mail(r, plans, failures, usage, *status);
	json_decref(plans);
	json_decref(failures);
	return 0;
}

/* ---------------------------------------------------------------- run */

static int check_binding(struct cl_run *r)
{
	struct binding_status st;
	return binding_require(r->db, BINDING_TRASH_ITEMS, &st) ||
	       binding_require(r->db, BINDING_TRASH_ASSETS, &r->assets_binding) ||
	       binding_require(r->db, BINDING_PURGE_ITEMS, &st) || cl_check_plans(r);
}

static enum run_status dry_run(struct cl_run *r)
{
	if (cl_print_expired(r))
		return RUN_FAILED;
	char retention[512];
	cleanup_retention_format(&r->opt->retention, retention, sizeof(retention));
	log_info("would purge, in total", LF_I("items", r->items), LF_I("assets", r->assets),
		 LF_S("retention", retention));
	json_object_set_new(r->t->run.summary, "would_purge",
			    json_pack("{s:I, s:I, s:s}", "items", (json_int_t)r->items, "assets",
				      (json_int_t)r->assets, "retention", retention));
	return RUN_SUCCEEDED;
}

static int work(struct cl_run *r)
{
	struct task_op op;
	if (cl_load(r))
		return -1;
	log_info("expired", LF_I("items", r->items), LF_I("assets", r->assets));
	task_op_begin(r->t, &op, "assets");
	int rc = phase_assets(r);
	op.processed = r->delete_calls;
	op.failed = r->failed_calls;
	op.succeeded = r->delete_calls - r->failed_calls;
	json_object_set_new(op.entry, "calls", json_integer(r->cld.calls));
	task_op_end(&op, rc || r->fatal ? RUN_FAILED : r->stop != CL_STOP_NONE ? RUN_PARTIAL
										: RUN_SUCCEEDED,
		    rc ? error_last() : NULL);
	if (rc || r->fatal)
		return rc;
	long long batches;
	task_op_begin(r->t, &op, "purge");
	rc = phase_purge(r, &batches);
	json_object_set_new(op.entry, "batches", json_integer(batches));
	task_op_end(&op, rc ? RUN_FAILED : RUN_SUCCEEDED, rc ? error_last() : NULL);
	return rc;
}

static enum run_status cleanup_run(struct task *t, void *opts)
{
	struct cleanup_options *o = opts;
	struct cl_run r = { .t = t, .db = t->db, .opt = o };
	enum run_status status = RUN_FAILED;
	if (check_binding(&r))
		goto out;
	if (o->dry_run) {
		status = dry_run(&r);
		goto out;
	}
	r.cld_open = true;
	if (cloudinary_open(&r.cld, t, &o->cld, o->limit, CL_MAX_SLOT_WAIT_S) || work(&r)) {
		if (!r.fatal && !db_was_stopped(r.db))
			goto out;
		/* A stop that cancelled a statement, or bad credentials: the
		 * record still gets what was done. */
	}
	if (summarize(&r, &status))
		status = RUN_FAILED;
	if (r.fatal)
		status = RUN_FAILED;
out:
	if (r.cld_open)
		cloudinary_close(&r.cld);
	return status;
}

/* ----------------------------------------------------------- registry */

static int cleanup_prepare(void *opts)
{
	struct cleanup_options *o = opts;
	char why[200];
	if (!o->retention_arg) {
		const char *env = config_get("JOBRUN_RETENTION");
		if (cleanup_retention_parse(env ? env : CLEANUP_DEFAULT_RETENTION, &o->retention, why,
					    sizeof(why)))
			return config_error("JOBRUN_RETENTION: %s (expected like '%s', '*=D' for "
					    "every other plan)", why, CLEANUP_DEFAULT_RETENTION);
	}
	/* A dry run calls nobody and mails nobody. */
	if (cloudinary_config_from_env(&o->cld, !o->dry_run))
		return -1;
	if (!o->dry_run && (mail_configured() || config_get("ADMIN_EMAIL"))) {
		if (mail_config_from_env(&o->mail_cfg))
			return -1;
		o->mail = true;
	}
	return 0;
}

static void cleanup_release(void *opts)
{
	struct cleanup_options *o = opts;
	cloudinary_config_release(&o->cld);
	if (o->mail)
		mail_config_release(&o->mail_cfg);
	o->mail = false;
}

static json_t *cleanup_args(const void *opts)
{
	const struct cleanup_options *o = opts;
	char retention[512];
	cleanup_retention_format(&o->retention, retention, sizeof(retention));
	return json_pack("{s:b, s:I, s:s}", "dry_run", o->dry_run, "limit", (json_int_t)o->limit,
			 "retention", retention);
}

static bool cleanup_dry_run(const void *opts)
{
	return ((const struct cleanup_options *)opts)->dry_run;
}

const struct job cleanup_job = {
	.name = "cleanup",
	.summary = "purge trashed items past their plan's retention, Cloudinary assets first",
	.prepare = cleanup_prepare,
	.run = cleanup_run,
	.release = cleanup_release,
	.args = cleanup_args,
	.dry_run = cleanup_dry_run,
};
