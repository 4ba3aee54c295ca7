/*
 * The schedule's state in Postgres (lib/sql/0007_schedule.sql): which slots
 * were claimed and what became of them, which entries are paused, and the
 * runs `status` reads. Nothing here lives in process memory, so a restarted
 * clock (Heroku restarts every dyno daily) knows what it already fired.
 *
 * A slot is (entry, due time). Every pass over an entry happens in one
 * transaction under a transaction-level advisory lock on the entry, and
 * every slot row is inserted with ON CONFLICT DO NOTHING: the process whose
 * INSERT returns the row owns the slot, whoever else is running a clock or a
 * tick at the same moment.
 *
 * Ownership: plain structs filled for the caller; the schedule and entries
 * are borrowed.
 */
#ifndef JOBRUN_JOBS_SCHEDULE_STATE_H
#define JOBRUN_JOBS_SCHEDULE_STATE_H

#include <stdbool.h>

struct cron_expr;
struct db;
struct schedule;
struct schedule_entry;

/* Iterations one plan may spend counting slots that are past their grace
 * (an every-minute entry after a long outage): beyond it the missed count
 * is a lower bound, never a hang. */
#define SLOT_PLAN_MAX_SLOTS 100000

/* What one pass does with an entry's slots that came due since its last
 * recorded one (pure; times are Unix seconds). Groups with n == 0 are
 * empty. */
struct slot_group {
	long long first, last;
	long n;
};
struct slot_plan {
	struct slot_group missed;    /* due + grace passed: recorded, never run */
	struct slot_group coalesced; /* within grace but not the latest: folded into `due` */
	struct slot_group paused;    /* the entry is paused: every slot lands here */
	long long due;               /* the one slot to run now, -1 for none */
};

/* last: the latest slot already recorded, or -1 when the entry has none
 * (a first start looks back only as far as the grace: no backfill). */
void slot_plan_make(const struct cron_expr *e, long long last, long long now, double grace_s,
		    bool paused, struct slot_plan *out);

/* The latest fire time <= now, or -1 when none in the last 8 years. */
long long cron_prev(const struct cron_expr *e, long long now);

/* The result of claiming an entry's due slots. */
struct slot_claim {
	struct slot_plan plan;
	bool owned;   /* this process inserted plan.due: it runs it (or records it skipped) */
};

/* One pass over one entry at `now`, in one transaction: read its last slot
 * and whether it is paused, plan, insert the rows. `busy`: this process
 * still runs the entry's previous slot, so the due slot is recorded
 * skipped instead of claimed. who: "clock host=… pid=…" (no secret). */
int schedule_claim(struct db *db, const struct schedule_entry *e, long long now, bool busy,
		   const char *who, struct slot_claim *out);

/* The claimed slot's child started (pid) / ended. state: "finished" or
 * "skipped"; the slot is linked to the run its child recorded (same entry,
 * host and pid, started after the claim). */
int schedule_slot_started(struct db *db, const char *entry, long long due, int pid);
int schedule_slot_ended(struct db *db, const char *entry, long long due, const char *state,
			int exit_code, const char *reason, long long *run_id);

/* Pause or resume an entry by name. *changed: whether it was not already so. */
int schedule_pause(struct db *db, const char *entry, const char *who, bool *changed);
int schedule_resume(struct db *db, const char *entry, bool *changed);
/* Names of paused entries, for `schedule` and `status`. */
int schedule_is_paused(struct db *db, const char *entry, bool *paused);

/* For the `schedule` listing, on a connection of its own: since[i] (the
 * caller's array of s->n) is when entry i was paused, -1 when it is not.
 * 0: read. 1: not known, and *why says why (no database configured; a
 * schema without jobrun.schedule_paused). -1: a database error (reported). */
int schedule_paused_since(const struct schedule *s, long long *since, const char **why);

/* Connect for the schedule commands (JOBRUN_STATEMENT_TIMEOUT applies) and
 * check the schema has this binary's migrations: "run 'jobrun migrate'"
 * otherwise, a newer schema is a config_error(). */
int schedule_db_open(struct db **out);

/* "clock host=web.1 pid=42": who claims slots and pauses entries. */
void schedule_who(const char *what, char *out, unsigned outlen);

/* Format a Unix time as RFC 3339 UTC ("2026-01-02T03:04:05Z"). */
void schedule_time_text(long long t, char *out, unsigned outlen);

#endif
