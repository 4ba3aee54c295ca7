#include "schedule_state.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "cron.h"
#include "db.h"
#include "log.h"
#include "migrate.h"
#include "schedule.h"
#include "task.h"

int schedule_db_open(struct db **out)
{
	double timeout;
	*out = NULL;
	if (task_statement_timeout(&timeout) || db_open(out, timeout))
		return -1;
	int current = migrate_current_version(*out);
	if (current >= 0 && !migrate_refuse_newer(current)) {
		if (current >= migrate_latest_version())
			return 0;
		error("database schema is at version %d but this jobrun needs %d: run 'jobrun migrate'",
		      current, migrate_latest_version());
	}
	db_close(*out);
	*out = NULL;
	return -1;
}

static void group_add(struct slot_group *g, long long t)
{
	if (!g->n++)
		g->first = t;
	g->last = t;
}

void slot_plan_make(const struct cron_expr *e, long long last, long long now, double grace_s,
		    bool paused, struct slot_plan *out)
{
	*out = (struct slot_plan){ .due = -1 };
	long long grace = (long long)grace_s;
	/* A first start runs what came due within the grace and records
	 * nothing older: there is no history to be late against yet. */
	long long from = last >= 0 ? last : now - grace - 1;
	long long latest = -1;
	long iterations = 0;
	for (long long t = cron_next(e, from); t >= 0 && t <= now; t = cron_next(e, t)) {
		if (paused) {
			group_add(&out->paused, t);
		} else if (now - t > grace) {
			group_add(&out->missed, t);
		} else {
			if (latest >= 0)
				group_add(&out->coalesced, latest);
			latest = t;
		}
		/* Years of an every-minute entry: stop counting, jump to the
		 * grace window (the count becomes a lower bound). */
		if (++iterations >= SLOT_PLAN_MAX_SLOTS && t < now - grace - 1)
			t = now - grace - 1;
	}
	out->due = latest;
}

long long cron_prev(const struct cron_expr *e, long long now)
{
	/* cron_next only looks forward: find a window that holds a fire time,
	 * smallest first so an every-minute entry walks a few steps, not a
	 * year of them. */
	static const long long windows[] = { 120, 3600, 86400, 32 * 86400LL, 366 * 86400LL,
					     8 * 366 * 86400LL };
	for (size_t i = 0; i < sizeof(windows) / sizeof(windows[0]); i++) {
		long long t = cron_next(e, now - windows[i]);
		if (t < 0 || t > now)
			continue;
		for (long long n = cron_next(e, t); n >= 0 && n <= now; n = cron_next(e, t))
			t = n;
		return t;
	}
	return -1;
}

void schedule_time_text(long long t, char *out, unsigned outlen)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (t < 0 || !gmtime_r(&tt, &tm) || !strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, outlen, "-");
}

void schedule_who(const char *what, char *out, unsigned outlen)
{
	char host[256];
	if (gethostname(host, sizeof(host)))
		snprintf(host, sizeof(host), "?");
	host[sizeof(host) - 1] = '\0';
	const char *dyno = config_get("DYNO");
	snprintf(out, outlen, "%s%s%s host=%s pid=%ld", what, dyno ? " dyno=" : "", dyno ? dyno : "",
		 host, (long)getpid());
}

static int insert_slot(struct db *db, const char *entry, const struct slot_group *g,
		       const char *state, const char *reason, const char *who, bool *inserted)
{
	char due[24], first[24], n[24];
	snprintf(due, sizeof(due), "%lld", g->last);
	snprintf(first, sizeof(first), "%lld", g->first);
	snprintf(n, sizeof(n), "%ld", g->n);
	const char *params[] = { entry, due, first, n, state, reason, who };
	struct db_result *r = db_query(
		db,
		"INSERT INTO jobrun.schedule_slots "
		"(entry, due_at, first_due_at, slots, state, reason, claimed_by) "
		"VALUES ($1, to_timestamp($2::bigint), to_timestamp($3::bigint), $4::integer, $5, $6, $7) "
		"ON CONFLICT DO NOTHING RETURNING 1",
		7, params);
	if (!r)
		return -1;
	if (inserted)
		*inserted = db_rows(r) > 0;
	db_result_free(r);
	return 0;
}

/* The entry's last recorded slot (-1: none) and whether it is paused,
 * under the entry's lock for the rest of the transaction. The lock is its
 * own statement: a statement's snapshot is taken before it waits, so a read
 * in the same statement would miss the rows the previous holder committed. */
static int read_entry(struct db *db, const char *entry, long long *last, bool *paused)
{
	const char *params[] = { entry };
	if (db_exec(db, "SELECT pg_advisory_xact_lock(hashtextextended('jobrun.schedule:' || $1, 0))",
		    1, params))
		return -1;
	struct db_result *r = db_query(
		db,
		"SELECT (SELECT extract(epoch FROM max(due_at))::bigint "
		"        FROM jobrun.schedule_slots WHERE entry = $1), "
		"       EXISTS (SELECT 1 FROM jobrun.schedule_paused WHERE entry = $1)",
		1, params);
	if (!r)
		return -1;
	*last = db_ll(r, 0, 0, -1);
	*paused = db_bool(r, 0, 1);
	db_result_free(r);
	return 0;
}

static int record_plan(struct db *db, const char *entry, bool busy, const char *who,
		       struct slot_claim *out)
{
	const struct slot_plan *p = &out->plan;
	if (p->missed.n && insert_slot(db, entry, &p->missed, "missed",
				       "the clock was not running within the entry's grace", who, NULL))
		return -1;
	if (p->coalesced.n && insert_slot(db, entry, &p->coalesced, "coalesced",
					  "a later slot came due before it ran", who, NULL))
		return -1;
	if (p->paused.n &&
	    insert_slot(db, entry, &p->paused, "paused", "the entry is paused", who, NULL))
		return -1;
	if (p->due < 0)
		return 0;
	struct slot_group due = { p->due, p->due, 1 };
	return insert_slot(db, entry, &due, busy ? "skipped" : "claimed",
			   busy ? "the previous run of this entry is still running" : NULL, who,
			   &out->owned);
}

int schedule_claim(struct db *db, const struct schedule_entry *e, long long now, bool busy,
		   const char *who, struct slot_claim *out)
{
	memset(out, 0, sizeof(*out));
	out->plan.due = -1;
	long long last;
	bool paused;
	if (db_begin(db))
		return -1;
	if (read_entry(db, e->name, &last, &paused))
		goto fail;
	slot_plan_make(e->expr, last, now, e->grace_s, paused, &out->plan);
	if (record_plan(db, e->name, busy, who, out) || db_commit(db))
		goto fail;
	return 0;
fail:
	db_rollback(db);
	out->owned = false;
	return -1;
}

static int slot_update(struct db *db, const char *sql, int n, const char *const *params,
		       long long *run_id)
{
	struct db_result *r = db_query(db, sql, n, params);
	if (!r)
		return -1;
	if (run_id)
		*run_id = db_rows(r) ? db_ll(r, 0, 0, 0) : 0;
	db_result_free(r);
	return 0;
}

int schedule_slot_started(struct db *db, const char *entry, long long due, int pid)
{
	char d[24], p[24];
	snprintf(d, sizeof(d), "%lld", due);
	snprintf(p, sizeof(p), "%d", pid);
	const char *params[] = { entry, d, p };
	return slot_update(db,
			   "UPDATE jobrun.schedule_slots SET state = 'started', child_pid = $3::integer, "
			   "started_at = now() WHERE entry = $1 AND due_at = to_timestamp($2::bigint)",
			   3, params, NULL);
}

int schedule_slot_ended(struct db *db, const char *entry, long long due, const char *state,
			int exit_code, const char *reason, long long *run_id)
{
	char d[24], code[24], host[256];
	snprintf(d, sizeof(d), "%lld", due);
	snprintf(code, sizeof(code), "%d", exit_code);
	if (gethostname(host, sizeof(host)))
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	const char *params[] = { entry, d, state, code, reason, host };
	/* The child recorded its own run (or a skipped one) under the entry
	 * the clock gave it; the clock knows its pid and host. */
	return slot_update(
		db,
		"UPDATE jobrun.schedule_slots s SET state = $3, finished_at = now(), "
		"exit_code = $4::integer, reason = coalesce($5, s.reason), "
		"run_id = (SELECT r.id FROM jobrun.runs r WHERE r.entry = s.entry "
		"          AND r.pid = s.child_pid AND r.host = $6 AND r.started_at >= s.claimed_at "
		"          ORDER BY r.id DESC LIMIT 1) "
		"WHERE entry = $1 AND due_at = to_timestamp($2::bigint) RETURNING coalesce(run_id, 0)",
		6, params, run_id);
}

static int affected(struct db *db, const char *sql, int n, const char *const *params, bool *changed)
{
	struct db_result *r = db_query(db, sql, n, params);
	if (!r)
		return -1;
	*changed = db_affected(r) > 0;
	db_result_free(r);
	return 0;
}

int schedule_pause(struct db *db, const char *entry, const char *who, bool *changed)
{
	const char *params[] = { entry, who };
	return affected(db,
			"INSERT INTO jobrun.schedule_paused (entry, paused_by) VALUES ($1, $2) "
			"ON CONFLICT DO NOTHING",
			2, params, changed);
}

int schedule_resume(struct db *db, const char *entry, bool *changed)
{
	const char *params[] = { entry };
	return affected(db, "DELETE FROM jobrun.schedule_paused WHERE entry = $1", 1, params, changed);
}

int schedule_is_paused(struct db *db, const char *entry, bool *paused)
{
	const char *params[] = { entry };
	struct db_result *r =
		db_query(db, "SELECT EXISTS (SELECT 1 FROM jobrun.schedule_paused WHERE entry = $1)", 1,
			 params);
	if (!r)
		return -1;
	*paused = db_bool(r, 0, 0);
	db_result_free(r);
	return 0;
}

int schedule_paused_since(const struct schedule *s, long long *since, const char **why)
{
	for (size_t i = 0; i < s->n; i++)
		since[i] = -1;
	/* db_open()'s rule: DATABASE_URL, else libpq's PG* variables. */
	if (!config_get("DATABASE_URL") && !config_get("PGHOST") && !config_get("PGDATABASE")) {
		*why = "no DATABASE_URL";
		return 1;
	}
	double timeout;
	struct db *db = NULL;
	struct db_result *r = NULL;
	int rc = -1;
	if (task_statement_timeout(&timeout) || db_open(&db, timeout))
		goto out;
	/* Listing needs no migrated schema: before 0007 nothing can be paused. */
	r = db_query(db, "SELECT to_regclass('jobrun.schedule_paused') IS NOT NULL", 0, NULL);
	if (!r)
		goto out;
	if (!db_bool(r, 0, 0)) {
		*why = "the database has no jobrun.schedule_paused yet (run 'jobrun migrate')";
		rc = 1;
		goto out;
	}
	db_result_free(r);
	r = db_query(db, "SELECT entry, floor(extract(epoch FROM paused_at))::bigint "
			 "FROM jobrun.schedule_paused", 0, NULL);
	if (!r)
		goto out;
	for (int row = 0; row < db_rows(r); row++) {
		const struct schedule_entry *e = schedule_find(s, db_value(r, row, 0));
		if (e) /* a paused name the file no longer has is nobody's */
			since[e - s->entries] = db_ll(r, row, 1, 0);
	}
	rc = 0;
out:
	db_result_free(r);
	db_close(db);
	return rc;
}
