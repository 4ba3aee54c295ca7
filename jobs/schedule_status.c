#include "schedule_status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "db.h"
#include "schedule.h"
#include "schedule_state.h"

static const char *const state_names[] = {
	[ENTRY_OK] = "ok",	       [ENTRY_RUNNING] = "running", [ENTRY_LATE] = "late",
	[ENTRY_MISSED] = "missed",     [ENTRY_FAILING] = "failing", [ENTRY_PAUSED] = "paused",
	[ENTRY_NEVER_RUN] = "never run",
};

const char *entry_state_name(enum entry_state s)
{
	return state_names[s];
}

bool entry_state_alarming(enum entry_state s)
{
	return s == ENTRY_LATE || s == ENTRY_MISSED || s == ENTRY_FAILING;
}

/* Whether a run started at or after `due` (with the early allowance). */
static bool ran_since(const struct entry_facts *f, long long due)
{
	return f->last_start >= 0 && f->last_start >= due - STATUS_EARLY_S;
}

/* The first fire time nobody dealt with: after the last slot a clock or
 * tick recorded (run, skipped, coalesced, paused or missed) and after the
 * last run however it was started. */
static long long first_unhandled(const struct cron_expr *e, const struct entry_facts *f)
{
	long long handled = f->last_slot_due;
	if (f->last_start >= 0 && f->last_start + STATUS_EARLY_S > handled)
		handled = f->last_start + STATUS_EARLY_S;
	return cron_next(e, handled);
}

enum entry_state entry_state_decide(const struct cron_expr *e, const struct entry_facts *f,
				    long long now, double grace_s)
{
	if (f->paused)
		return ENTRY_PAUSED;
	if (f->running)
		return ENTRY_RUNNING;
	if (!f->last_id && f->last_slot_due < 0)
		return ENTRY_NEVER_RUN;
	long long due = first_unhandled(e, f);
	if (due >= 0 && now - due > (long long)grace_s)
		return ENTRY_LATE;
	if (f->missed_due >= 0 && !ran_since(f, f->missed_due))
		return ENTRY_MISSED;
	if (!strcmp(f->outcome, "failed") || !strcmp(f->outcome, "abandoned"))
		return ENTRY_FAILING;
	return f->last_id ? ENTRY_OK : ENTRY_NEVER_RUN;
}

/* A `running` row whose run lock is free belongs to a dead process (the
 * same test runs_mark_abandoned makes; the try-lock ends with the
 * statement). */
#define RUN_STATUS_SQL(r)                                                                     \
	"CASE WHEN " r ".status <> 'running' THEN " r ".status "                              \
	"WHEN pg_try_advisory_xact_lock(hashtextextended('jobrun.run:' || " r ".id, 0)) "     \
	"THEN 'abandoned' ELSE 'running' END"

static const char facts_sql[] =
	"SELECT l.id, " RUN_STATUS_SQL("l") ", extract(epoch FROM l.started_at)::bigint, "
	"  extract(epoch FROM l.finished_at - l.started_at), "
	"  (SELECT extract(epoch FROM max(started_at))::bigint FROM jobrun.runs "
	"   WHERE entry IN ($1, $2) AND status = 'succeeded'), "
	"  (SELECT " RUN_STATUS_SQL("o") " FROM jobrun.runs o "
	"   WHERE o.entry IN ($1, $2) AND o.status <> 'skipped' "
	"   ORDER BY o.started_at DESC, o.id DESC LIMIT 1), "
	"  EXISTS (SELECT 1 FROM jobrun.runs x WHERE x.entry IN ($1, $2) AND x.status = 'running' "
	"          AND NOT pg_try_advisory_xact_lock(hashtextextended('jobrun.run:' || x.id, 0))), "
	"  (SELECT CASE WHEN s.state = 'missed' THEN extract(epoch FROM s.due_at)::bigint END "
	"   FROM jobrun.schedule_slots s WHERE s.entry = $1 ORDER BY s.due_at DESC LIMIT 1), "
	"  (SELECT extract(epoch FROM max(due_at))::bigint FROM jobrun.schedule_slots "
	"   WHERE entry = $1), "
	"  EXISTS (SELECT 1 FROM jobrun.schedule_paused WHERE entry = $1) "
	"FROM (SELECT 1) one LEFT JOIN LATERAL "
	"  (SELECT id, status, started_at, finished_at FROM jobrun.runs "
	"   WHERE entry IN ($1, $2) ORDER BY started_at DESC, id DESC LIMIT 1) l ON true";

static void copy_text(char *out, size_t len, const char *v)
{
	snprintf(out, len, "%s", v ? v : "");
}

int entry_facts_read(struct db *db, const struct schedule_entry *e, long long now,
		     struct entry_facts *out)
{
	memset(out, 0, sizeof(*out));
	out->prev_due = cron_prev(e->expr, now);
	out->next_due = cron_next(e->expr, now);
	char *derived = schedule_derived_name(e->argc, e->argv);
	const char *params[] = { e->name, derived };
	struct db_result *r = db_query(db, facts_sql, 2, params);
	free(derived);
	if (!r)
		return -1;
	out->last_id = db_ll(r, 0, 0, 0);
	copy_text(out->last_status, sizeof(out->last_status), db_value(r, 0, 1));
	out->last_start = db_ll(r, 0, 2, -1);
	out->last_duration_s = db_double(r, 0, 3, -1);
	out->last_success = db_ll(r, 0, 4, -1);
	copy_text(out->outcome, sizeof(out->outcome), db_value(r, 0, 5));
	out->running = db_bool(r, 0, 6);
	out->missed_due = db_ll(r, 0, 7, -1);
	out->last_slot_due = db_ll(r, 0, 8, -1);
	out->paused = db_bool(r, 0, 9);
	db_result_free(r);
	return 0;
}

static json_t *time_json(long long t)
{
	if (t < 0)
		return json_null();
	char text[32];
	schedule_time_text(t, text, sizeof(text));
	return json_string(text);
}

json_t *entry_status_json(const struct schedule_entry *e, const struct entry_facts *f,
			  enum entry_state s)
{
	json_t *last = json_null();
	if (f->last_id) {
		last = json_pack("{s:I, s:s, s:o}", "id", (json_int_t)f->last_id, "status",
				 f->last_status, "started_at", time_json(f->last_start));
		json_object_set_new(last, "duration_s", f->last_duration_s >= 0
								 ? json_real(f->last_duration_s)
								 : json_null());
	}
	return json_pack("{s:s, s:i, s:s, s:s, s:s, s:b, s:f, s:o, s:o, s:o, s:o}", "name", e->name,
			 "line", e->line, "schedule", cron_spec(e->expr), "zone",
			 cron_zone(e->expr), "state", entry_state_name(s), "paused", f->paused,
			 "grace_s", e->grace_s, "last_due", time_json(f->prev_due), "next_due",
			 time_json(f->next_due), "last_run", last, "last_success",
			 time_json(f->last_success));
}
