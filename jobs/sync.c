/*
 * sync: the run. Everything happens on one http_pool on this one thread:
 * each integration is a small state machine driven by its operations'
 * page callbacks. Phase 1's operations run one after another; when the last
 * of them has ended, phase 2's start together; when every operation has
 * ended, the integration writes its sync_logs row and the next waiting
 * integration starts. Each integration takes its own lock when it starts,
 * so two runs started together split the integrations between them.
 */
#include "sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "db.h"
#include "deadline.h"
#include "http.h"
#include "limiter.h"
#include "log.h"
#include "sync_internal.h"
#include "xalloc.h"

/* A key blocked by a 429 reopens within its minute: waiting is better than
 * failing the operation. The deadline cuts it anyway. */
#define SYNC_MAX_SLOT_WAIT_S 90.0

struct sync_run {
	struct task *t;
	const struct sync_options *opt;
	struct shipstation ss;
	struct limiter lim;
	struct http_client *http;
	struct http_pool *pool;
	struct sync_integration *in;
	int n;
	int next;            /* the next integration to start */
	int active;          /* integrations started and not finished */
	int synced, skipped; /* integrations started / skipped (locked elsewhere) */
	long long ops_ok, ops_failed;
	struct sync_counts rows;
	long long pages;
	double db_time_s;    /* time spent writing pages and marking removals */
};

static void fill(struct sync_run *r);
static void advance(struct sync_integration *in);

/* -------------------------------------------------------------- operations */

static json_t *counts_json(const struct sync_counts *n, bool dry_run, json_t *o)
{
	json_object_set_new(o, "fetched", json_integer(n->fetched));
	json_object_set_new(o, dry_run ? "would_insert" : "inserted", json_integer(n->inserted));
	json_object_set_new(o, dry_run ? "would_update" : "updated", json_integer(n->updated));
	json_object_set_new(o, "unchanged", json_integer(n->unchanged));
	json_object_set_new(o, dry_run ? "would_remove" : "removed", json_integer(n->removed));
	if (n->unusable)
		json_object_set_new(o, "unusable", json_integer(n->unusable));
	return o;
}

static void add_counts(struct sync_counts *to, const struct sync_counts *n)
{
	to->fetched += n->fetched;
	to->inserted += n->inserted;
	to->updated += n->updated;
	to->unchanged += n->unchanged;
	to->removed += n->removed;
	to->unusable += n->unusable;
}

static void op_end(struct sync_op_run *o, bool success, const char *error)
{
	struct sync_integration *in = o->in;
	struct sync_run *r = in->run;
	bool dry = r->opt->dry_run;
	o->state = OP_DONE;
	o->success = success;
	o->duration_s = clock_mono() - o->started_mono;
	in->running--;
	snprintf(o->error, sizeof(o->error), "%s", error ? error : "");
	add_counts(&r->rows, &o->n);
	r->pages += o->pages;
	if (success)
		r->ops_ok++;
	else
		r->ops_failed++;
	o->top.processed = o->n.fetched;
	o->top.succeeded = o->n.fetched - o->n.unusable;
	o->top.failed = o->n.unusable;
	counts_json(&o->n, dry, o->top.entry);
	json_object_set_new(o->top.entry, "pages", json_integer(o->pages));
	task_op_end(&o->top, success ? RUN_SUCCEEDED : o->stopped ? RUN_INTERRUPTED : RUN_FAILED,
		    success ? NULL : o->error);
	log_emit(success ? LOG_INFO : LOG_WARN, success ? "operation done" : "operation failed",
		 LF_S("integration", in->name), LF_S("op", o->op->name), LF_I("pages", o->pages),
		 LF_I("fetched", o->n.fetched), LF_I(dry ? "would_insert" : "inserted", o->n.inserted),
		 LF_I(dry ? "would_update" : "updated", o->n.updated),
		 LF_I("unchanged", o->n.unchanged), LF_I(dry ? "would_remove" : "removed", o->n.removed),
		 LF_F("duration_s", o->duration_s),
		 success ? LF_END : LF_S("error", o->error), LF_END);
	if (!success && !o->stopped)
		task_problem(r->t, "%s/%s: %s", in->name, o->op->name, o->error);
	advance(in);
}

/* Whether a page is its listing's last: the provider's own pager decides. */
static bool last_page(const struct sync_op_run *o, json_t *root)
{
	struct provider_pager pg;
	json_t *items;
	char err[128];
	provider_pager_init(&pg, PROVIDER_PAGING_LINKS, o->op->name);
	bool last = provider_pager_advance(&pg, root, o->in->account->prov.base_url, &items, err,
					   sizeof(err)) != 0 || pg.done;
	provider_pager_release(&pg);
	return last;
}

/* An operation that ended early forgets what it saw: it marks nothing removed. */
static void op_failed(struct sync_op_run *o, const char *error)
{
	struct db *db = o->in->run->t->db;
	if (sync_store_forget(db, o->op, o->in->id))
		log_warn("could not forget the keys of a failed operation", LF_S("op", o->op->name));
	op_end(o, false, error);
}

static void op_failed_reply(struct sync_op_run *o, const struct provider_reply *reply)
{
	char error[600];
	o->stopped = reply->result == PROVIDER_STOPPED;
	/* ShipStation answers 403 on the inventory endpoints of an account
	 * without the add-on; its message may not say so. */
	if (o->op->addon && reply->status == 403)
		snprintf(error, sizeof(error), "%s (the inventory endpoints need ShipStation's "
			 "Inventory add-on)", reply->error);
	else
		snprintf(error, sizeof(error), "%s", reply->error[0] ? reply->error
						       : provider_result_name(reply->result));
	op_failed(o, error);
}

static int on_page(void *arg, const struct provider_reply *reply, json_t *items)
{
	struct sync_op_run *o = arg;
	struct sync_run *r = o->in->run;
	if (reply->result != PROVIDER_OK) {
		op_failed_reply(o, reply);
		return -1;
	}
	struct db *db = r->t->db;
	double t0 = clock_mono();
	int rc = sync_store_page(db, o->op, o->in->id, items, r->opt->dry_run, &o->n);
	o->pages++;
	bool last = last_page(o, reply->json);
	if (!rc && last)
		rc = sync_store_finish(db, o->op, o->in->id, r->opt->dry_run, &o->n.removed);
	r->db_time_s += clock_mono() - t0;
	log_progress("sync: %s/%s page %lld", o->in->name, o->op->name, o->pages);
	if (rc) {
		char error[600];
		snprintf(error, sizeof(error), "database: %s", error_last() ? error_last() : "error");
		op_failed(o, error);
		return -1;
	}
	if (last)
		op_end(o, true, NULL);
	return 0;
}

static void start_op(struct sync_op_run *o)
{
	struct sync_integration *in = o->in;
	struct sync_run *r = in->run;
	char name[160], label[64];
	snprintf(name, sizeof(name), "%s/%s", in->name, o->op->name);
	snprintf(label, sizeof(label), "GET /v2/%s", o->op->name);
	task_op_begin(r->t, &o->top, name);
	json_object_set_new(o->top.entry, "integration", json_string(in->name));
	json_object_set_new(o->top.entry, "op", json_string(o->op->name));
	json_object_set_new(o->top.entry, "phase", json_integer(o->op->phase));
	o->state = OP_RUNNING;
	o->started_mono = clock_mono();
	in->running++;
	char size[16];
	snprintf(size, sizeof(size), "%d", SHIPSTATION_PAGE_SIZE);
	const char *segments[] = { "v2", o->op->name, NULL };
	/* /v2/warehouses is not paged. */
	const char *params[] = { "page_size", size, NULL };
	struct provider_call call = {
		.segments = segments, .params = o->op->id == SYNC_WAREHOUSES ? NULL : params,
		.bucket = in->bucket, .label = label,
	};
	log_info("operation started", LF_S("integration", in->name), LF_S("op", o->op->name),
		 LF_I("phase", o->op->phase));
	/* Last: a request that cannot even be built ends the operation here. */
	provider_stream(&in->account->prov, r->pool, &call, PROVIDER_PAGING_LINKS, o->op->name,
			on_page, o);
}

/* ------------------------------------------------------------ integrations */

static json_t *results_json(const struct sync_integration *in, int *ok, int *failed)
{
	json_t *results = json_array();
	*ok = *failed = 0;
	for (int i = 0; i < in->n_ops; i++) {
		const struct sync_op_run *o = &in->ops[i];
		json_t *e = json_pack("{s:s, s:i, s:b, s:I, s:I}", "name", o->op->name, "phase",
				      o->op->phase, "success", o->success, "duration",
				      (json_int_t)(o->duration_s * 1000 + 0.5), "pages",
				      (json_int_t)o->pages);
		counts_json(&o->n, in->run->opt->dry_run, e);
		json_t *err = o->success ? json_null() : json_string(o->error);
		json_object_set_new(e, "error", err ? err : json_string("(error text is not UTF-8)"));
		json_array_append_new(results, e);
		if (o->success)
			(*ok)++;
		else
			(*failed)++;
	}
	return results;
}

/* Every operation has ended (or will not start: the run is stopping):
 * the integration's sync_logs row. A dry run writes none. */
static void finish_integration(struct sync_integration *in)
{
	struct sync_run *r = in->run;
	for (int i = 0; i < in->n_ops; i++) {
		struct sync_op_run *o = &in->ops[i];
		if (o->state != OP_PENDING)
			continue;
		o->state = OP_DONE;
		snprintf(o->error, sizeof(o->error), "%s", in->error[0] ? in->error
				 : "not started: the run was stopping");
		r->ops_failed++;
	}
	in->state = IN_DONE;
	r->active--;
	int ok, failed;
	json_t *results = results_json(in, &ok, &failed);
	long long ms = (long long)((clock_mono() - in->started_mono) * 1000 + 0.5);
	const char *status = failed == 0 ? "succeeded" : ok == 0 ? "failed" : "partial";
	json_object_set_new(in->entry, "status", json_string(status));
	json_object_set_new(in->entry, "requests",
			    json_integer(in->account ? in->account->requests : 0));
	json_object_set_new(in->entry, "duration_ms", json_integer(ms));
	if (!r->opt->dry_run &&
	    sync_store_log(r->t->db, in, r->t->run.id, results, in->n_ops, ok, failed, ms))
		task_problem(r->t, "%s: could not write its sync_logs row: %s", in->name,
			     error_last() ? error_last() : "database error");
	json_decref(results);
	log_info("integration done", LF_S("integration", in->name), LF_S("status", status),
		 LF_I("operations", in->n_ops), LF_I("failed", failed), LF_I("duration_ms", ms));
	fill(r);
}

/* Phase 1 one after another, then phase 2 all at once; nothing new once
 * the run is stopping. An operation may end while it starts (a request
 * that cannot be built): `starting` keeps that end from re-entering here. */
static void advance(struct sync_integration *in)
{
	if (in->state != IN_RUNNING || in->starting)
		return;
	while (in->running == 0) {
		if (deadline_should_stop() || in->next >= in->n_ops) {
			finish_integration(in);
			return;
		}
		in->starting = true;
		if (in->ops[in->next].op->phase == 1)
			start_op(&in->ops[in->next++]);
		else
			while (in->next < in->n_ops)
				start_op(&in->ops[in->next++]);
		in->starting = false;
	}
}

static json_t *integration_entry(struct sync_run *r, const struct sync_integration *in,
				 const char *status)
{
	json_t *list = json_object_get(r->t->run.summary, "integrations");
	if (!json_is_array(list)) {
		list = json_array();
		json_object_set_new(r->t->run.summary, "integrations", list);
	}
	json_t *e = json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)in->id, "name", in->name,
			      "bucket", in->bucket, "status", status);
	json_array_append_new(list, e);
	return e;
}

static void start_integration(struct sync_integration *in)
{
	struct sync_run *r = in->run;
	char key[64];
	snprintf(key, sizeof(key), "sync:%lld", in->id);
	int locked = task_lock(r->t, key);
	if (locked > 0) {
		in->state = IN_SKIPPED;
		r->skipped++;
		json_t *e = integration_entry(r, in, "skipped");
		json_object_set_new(e, "reason", json_string("another run holds its lock"));
		log_info("integration skipped: another run holds its lock", LF_S("integration", in->name),
			 LF_S("lock", key));
		return;
	}
	in->state = IN_RUNNING;
	in->started_mono = clock_mono();
	in->started_wall = clock_wall();
	in->entry = integration_entry(r, in, "running");
	r->active++;
	r->synced++;
	if (locked < 0)
		snprintf(in->error, sizeof(in->error), "could not take its lock: %s",
			 error_last() ? error_last() : "database error");
	else if (in->api_url && config_check_url("shipstation.integrations.api_url", in->api_url))
		snprintf(in->error, sizeof(in->error), "%s", error_last());
	if (in->error[0]) {
		task_problem(r->t, "%s: %s", in->name, in->error);
		finish_integration(in);
		return;
	}
	in->account = shipstation_account(&r->ss, in->api_url, in->key, in->bucket, r->http);
	log_info("integration started", LF_S("integration", in->name), LF_I("id", in->id),
		 LF_S("bucket", in->bucket));
	advance(in);
}

/* Start waiting integrations while there is room. */
static void fill(struct sync_run *r)
{
	while (r->active < r->opt->concurrency && r->next < r->n && !deadline_should_stop())
		start_integration(&r->in[r->next++]);
}

/* ---------------------------------------------------------------- the run */

static void select_ops(struct sync_run *r)
{
	for (int i = 0; i < r->n; i++) {
		struct sync_integration *in = &r->in[i];
		in->run = r;
		for (int k = 0; k < SYNC_NOPS; k++) {
			if (!(r->opt->ops & (1u << k)))
				continue;
			in->ops[in->n_ops] = (struct sync_op_run){ .op = &sync_ops[k], .in = in };
			in->n_ops++;
		}
	}
}

static int connect_client(struct sync_run *r)
{
	struct db *rl_db = task_rl_db(r->t);
	if (!rl_db)
		return -1;
	limiter_init(&r->lim, rl_db, provider_map_buckets, &r->ss.hub, SYNC_MAX_SLOT_WAIT_S);
	struct http_hooks hooks = provider_hooks(&r->ss.hub, &r->lim);
	r->http = task_http(r->t, &hooks);
	return r->http ? 0 : -1;
}

static void summarize(struct sync_run *r)
{
	struct run *run = &r->t->run;
	bool dry = r->opt->dry_run;
	run->processed = r->ops_ok + r->ops_failed;
	run->succeeded = r->ops_ok;
	run->failed = r->ops_failed;
	json_t *s = run->summary;
	json_object_set_new(s, "integrations_synced", json_integer(r->synced));
	json_object_set_new(s, "integrations_skipped", json_integer(r->skipped));
	json_object_set_new(s, "integrations_not_started", json_integer(r->n - r->synced - r->skipped));
	json_object_set_new(s, "rows", counts_json(&r->rows, dry, json_object()));
	json_object_set_new(s, "pages", json_integer(r->pages));
	json_object_set_new(s, "db_time_s", json_real(r->db_time_s));
	long long written = r->rows.inserted + r->rows.updated + r->rows.unchanged;
	if (r->db_time_s > 0)
		json_object_set_new(s, "rows_per_db_second", json_real((double)written / r->db_time_s));
	log_info(dry ? "sync dry run summary" : "sync summary", LF_I("integrations", r->synced),
		 LF_I("skipped", r->skipped), LF_I("operations_ok", r->ops_ok),
		 LF_I("operations_failed", r->ops_failed), LF_I("fetched", r->rows.fetched),
		 LF_I(dry ? "would_insert" : "inserted", r->rows.inserted),
		 LF_I(dry ? "would_update" : "updated", r->rows.updated),
		 LF_I("unchanged", r->rows.unchanged),
		 LF_I(dry ? "would_remove" : "removed", r->rows.removed), LF_F("db_time_s", r->db_time_s));
}

static enum run_status final_status(const struct sync_run *r)
{
	if (deadline_reason() != STOP_NONE)
		return RUN_INTERRUPTED;
	if (r->synced == 0 && r->skipped > 0)
		return RUN_SKIPPED;
	if (r->ops_failed == 0)
		return RUN_SUCCEEDED;
	return r->ops_ok == 0 ? RUN_FAILED : RUN_PARTIAL;
}

/* Every integration, as many at once as allowed, on one pool. */
static void sync_all(struct sync_run *r)
{
	r->pool = http_pool_new(r->http, (int)(2 * r->opt->concurrency));
	fill(r);
	http_pool_run(r->pool);
	/* A stop leaves integrations that never started; those that did have
	 * finished through their callbacks. */
	http_pool_free(r->pool);
	r->pool = NULL;
}

enum run_status sync_run(struct task *t, const struct sync_options *opt)
{
	struct sync_run r = { .t = t, .opt = opt };
	struct shipstation_config cfg = opt->ss;
	cfg.base_url = xstrdup(opt->ss.base_url);
	shipstation_init(&r.ss, &cfg);
	enum run_status status = RUN_FAILED;
	if (sync_load_integrations(t->db, opt->integrations, opt->n_integrations, &r.in, &r.n))
		goto out;
	if (r.n == 0) {
		log_info("no active ShipStation integrations");
		json_object_set_new(t->run.summary, "message",
				    json_string("no active ShipStation integrations"));
		status = RUN_SUCCEEDED;
		goto out;
	}
	select_ops(&r);
	if (sync_store_prepare(t->db) || connect_client(&r))
		goto out;
	sync_all(&r);
	summarize(&r);
	status = final_status(&r);
out:
	/* The task's http client keeps pointers to r.ss and r.lim: drop them. */
	if (r.http)
		http_client_set_hooks(r.http, NULL);
	shipstation_release(&r.ss);
	sync_integrations_free(r.in, r.n);
	return status;
}
