/*
 * jobrun schedule: the schedule file's entries and their next fire times,
 * or (--heroku) the Heroku Scheduler entries equivalent to it.
 *
 * The check a user runs before trusting an entry ("when does it fire after
 * the DST change?"), so it needs only the file: the database is asked which
 * entries are paused when one is configured, and a database that cannot
 * answer is a warning, never a failed listing.
 * Subcommands (pause, resume, run) are dispatched from cmd_schedule() by
 * their first positional argument.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "commands.h"
#include "cron.h"
#include "log.h"
#include "options.h"
#include "schedule.h"
#include "schedule_cmd.h"
#include "schedule_state.h"
#include "tz.h"
#include "xalloc.h"

const char usage_schedule[] =
	"usage: jobrun schedule [--from TIME] [--count N] [--json]\n"
	"       jobrun schedule --heroku [--json]\n"
	"       jobrun schedule pause|resume|run NAME\n"
	"\n"
	"List the schedule file's entries (JOBRUN_SCHEDULE, default jobrun.cron) with\n"
	"their next fire times, in UTC and in each entry's zone, and which are paused\n"
	"(read from the database when DATABASE_URL is set; without one, or when it\n"
	"cannot be read, the listing says the pause state is unknown). A bad line is\n"
	"reported as FILE:LINE: why, and exits 78.\n"
	"\n"
	"  --from TIME  fire times after TIME (RFC 3339, e.g. 2025-03-09T00:00:00Z;\n"
	"               default now)\n"
	"  --count N    how many fire times per entry (default 3, at most 1000)\n"
	"  --heroku     the Heroku Scheduler entries for the file: `jobrun tick\n"
	"               --entry NAME` at the entry's time where Scheduler can express\n"
	"               it (every 10 minutes, hourly at :M0, daily at HH:00 or HH:30\n"
	"               UTC), and `jobrun tick` every 10 minutes for the rest; each\n"
	"               slot runs once, whichever claims it first\n"
	"  --json       one JSON object on stdout\n"
	"\n"
	"  pause NAME   record the entry's slots `paused` instead of running them\n"
	"               (state in Postgres, for every clock and tick) until\n"
	"  resume NAME  runs it again from its next due time\n"
	"  run NAME     run the entry now, through its job's lock and run record,\n"
	"               as the clock would; exits with the job's exit code\n";

#define COUNT_MAX 1000

/* ---- the listing ----------------------------------------------------------- */

static void command_line(const struct schedule_entry *e, struct buf *b)
{
	buf_adds(b, "jobrun");
	for (int i = 0; i < e->argc; i++)
		buf_addf(b, " %s", e->argv[i]);
}

/* What the listing knows of pauses: since[i] per entry (-1 not paused), or
 * unknown_why when it could not tell. */
struct pauses {
	long long *since;
	const char *unknown_why;
};

/* "paused": true/false, null when unknown; "paused_at" when paused. */
static void add_pause(json_t *o, const struct pauses *p, size_t i)
{
	char at[40];
	bool paused = !p->unknown_why && p->since[i] >= 0;
	json_object_set_new(o, "paused", p->unknown_why ? json_null() : json_boolean(paused));
	if (!paused)
		return;
	tz_format_rfc3339(p->since[i], 0, 1, at, sizeof(at));
	json_object_set_new(o, "paused_at", json_string(at));
}

static json_t *entry_json(const struct schedule_entry *e, long long from, long count)
{
	json_t *argv = json_array(), *next = json_array();
	for (int i = 0; i < e->argc; i++)
		json_array_append_new(argv, json_string(e->argv[i]));
	long long t = from;
	for (long i = 0; i < count && (t = cron_next(e->expr, t)) >= 0; i++) {
		char utc[40], local[40];
		tz_format_rfc3339(t, 0, 1, utc, sizeof(utc));
		tz_format_rfc3339(t, cron_offset(e->expr, t), 0, local, sizeof(local));
		json_array_append_new(next, json_pack("{s:s, s:s}", "utc", utc, "local", local));
	}
	return json_pack("{s:s, s:i, s:s, s:s, s:o, s:f, s:o}", "name", e->name, "line", e->line,
			 "schedule", cron_spec(e->expr), "zone", cron_zone(e->expr), "argv", argv,
			 "grace_s", e->grace_s, "next", next);
}

static void print_entry(const struct schedule_entry *e, long long from, long count,
			long long paused_since)
{
	struct buf cmd = BUF_INIT;
	char at[40] = "";
	command_line(e, &cmd);
	if (paused_since >= 0)
		tz_format_rfc3339(paused_since, 0, 1, at, sizeof(at));
	printf("%s  (line %d)%s%s\n  %s  %s  %s\n", e->name, e->line, *at ? "  PAUSED since " : "",
	       at, cron_spec(e->expr), cron_zone(e->expr), buf_str(&cmd));
	buf_release(&cmd);
	long long t = from;
	long i = 0;
	for (; i < count && (t = cron_next(e->expr, t)) >= 0; i++) {
		char utc[40], local[40];
		tz_format_rfc3339(t, 0, 1, utc, sizeof(utc));
		tz_format_rfc3339(t, cron_offset(e->expr, t), 0, local, sizeof(local));
		printf("    %s  %s\n", utc, local);
	}
	if (i < count)
		printf("    (no %s fire time before the year 10000)\n", i ? "further" : "");
}

static int list_entries(const struct schedule *s, long long from, long count, bool json,
			const struct pauses *p)
{
	char from_text[40];
	tz_format_rfc3339(from, 0, 1, from_text, sizeof(from_text));
	if (json) {
		json_t *entries = json_array();
		for (size_t i = 0; i < s->n; i++) {
			json_t *e = entry_json(&s->entries[i], from, count);
			add_pause(e, p, i);
			json_array_append_new(entries, e);
		}
		json_t *o = json_pack("{s:s, s:s, s:o}", "file", s->path, "from", from_text,
				      "entries", entries);
		if (p->unknown_why)
			json_object_set_new(o, "pause_state_unknown", json_string(p->unknown_why));
		char *text = json_dumps(o, JSON_COMPACT);
		printf("%s\n", text);
		free(text);
		json_decref(o);
		return EXIT_OK;
	}
	printf("%s: %zu entr%s, next %ld fire time%s after %s\n", s->path, s->n,
	       s->n == 1 ? "y" : "ies", count, count == 1 ? "" : "s", from_text);
	if (p->unknown_why)
		printf("pause state unknown: %s\n", p->unknown_why);
	for (size_t i = 0; i < s->n; i++) {
		printf("\n");
		print_entry(&s->entries[i], from, count, p->unknown_why ? -1 : p->since[i]);
	}
	return EXIT_OK;
}

static int list_with_pauses(const struct schedule *s, long long from, long count, bool json)
{
	struct pauses p = { .since = xcalloc(s->n ? s->n : 1, sizeof(*p.since)) };
	if (schedule_paused_since(s, p.since, &p.unknown_why) < 0) {
		log_warn("listing without the pause state: the database could not be read",
			 LF_S("error", error_last() ? error_last() : ""));
		p.unknown_why = "the database could not be read";
	}
	int code = list_entries(s, from, count, json, &p);
	free(p.since);
	return code;
}

/* ---- --heroku -------------------------------------------------------------- */

struct heroku_form {
	bool native;
	char frequency[48]; /* "Every 10 minutes", "Every hour at :10", "Every day at 02:00" */
	char why[160];      /* when not native */
};

static int single_bit(uint64_t m)
{
	return m && !(m & (m - 1)) ? __builtin_ctzll(m) : -1;
}

/* Whether Scheduler's three frequencies can say exactly what e says. */
static void heroku_form(const struct schedule_entry *e, long long now, struct heroku_form *f)
{
	struct cron_fields c;
	cron_fields(e->expr, &c);
	*f = (struct heroku_form){ 0 };
	const uint64_t all_hour = (1ULL << 24) - 1;
	const uint64_t all_dom = ((1ULL << 32) - 1) & ~1ULL, all_mon = ((1ULL << 13) - 1) & ~1ULL;
	int off;
	if (c.mask[CRON_DOM] != all_dom || c.mask[CRON_MONTH] != all_mon ||
	    (c.mask[CRON_DOW] & 0x7f) != 0x7f) {
		snprintf(f->why, sizeof(f->why), "not every day (Scheduler has no weekly or "
						 "monthly frequency)");
		return;
	}
	if (!cron_fixed_offset(e->expr, now, &off)) {
		snprintf(f->why, sizeof(f->why), "%s changes its UTC offset (DST); Scheduler "
						 "runs in UTC", cron_zone(e->expr));
		return;
	}
	int m = single_bit(c.mask[CRON_MINUTE]), h = single_bit(c.mask[CRON_HOUR]);
	const uint64_t every10 = 1ULL | 1ULL << 10 | 1ULL << 20 | 1ULL << 30 | 1ULL << 40 | 1ULL << 50;
	if (c.mask[CRON_HOUR] == all_hour && c.mask[CRON_MINUTE] == every10 && off % 600 == 0) {
		snprintf(f->frequency, sizeof(f->frequency), "Every 10 minutes");
		f->native = true;
		return;
	}
	if (c.mask[CRON_HOUR] == all_hour && m >= 0) {
		int utc_m = ((m - off / 60) % 60 + 60) % 60;
		if (off % 60 == 0 && utc_m % 10 == 0) {
			snprintf(f->frequency, sizeof(f->frequency), "Every hour at :%02d", utc_m);
			f->native = true;
			return;
		}
	} else if (h >= 0 && m >= 0) {
		int utc = (((h * 60 + m - off / 60) % 1440) + 1440) % 1440;
		if (off % 60 == 0 && utc % 30 == 0) {
			snprintf(f->frequency, sizeof(f->frequency), "Every day at %02d:%02d UTC",
				 utc / 60, utc % 60);
			f->native = true;
			return;
		}
	}
	snprintf(f->why, sizeof(f->why), "Scheduler offers every 10 minutes, every hour at "
					 ":00/:10/…/:50 and every day at HH:00 or HH:30 UTC only");
}

/* Each Scheduler entry is a tick over its one entry, not the job's own
 * command: a tick claims the slot, so the catch-all tick (or a clock) that
 * also finds it due does not run it again. */
static int print_heroku(const struct schedule *s, long long now, bool json)
{
	json_t *native = json_array(), *rest = json_array();
	struct buf text = BUF_INIT, tick = BUF_INIT;
	for (size_t i = 0; i < s->n; i++) {
		const struct schedule_entry *e = &s->entries[i];
		struct heroku_form f;
		heroku_form(e, now, &f);
		struct buf cmd = BUF_INIT, runs = BUF_INIT;
		buf_addf(&cmd, "jobrun tick --entry %s", e->name);
		command_line(e, &runs);
		if (f.native) {
			json_array_append_new(native, json_pack("{s:s, s:s, s:s, s:s}", "entry", e->name,
								"frequency", f.frequency, "command",
								buf_str(&cmd), "runs", buf_str(&runs)));
			buf_addf(&text, "  %-24s %-40s # %s (%s %s)\n", f.frequency, buf_str(&cmd),
				 buf_str(&runs), cron_spec(e->expr), cron_zone(e->expr));
		} else {
			json_array_append_new(rest, json_pack("{s:s, s:s}", "entry", e->name, "why",
							      f.why));
			buf_addf(&tick, "  %-30s %s (%s): %s\n", e->name, cron_spec(e->expr),
				 cron_zone(e->expr), f.why);
		}
		buf_release(&cmd);
		buf_release(&runs);
	}
	size_t n_rest = json_array_size(rest);
	if (json) {
		/* The tick is worth having even when every entry has its own
		 * Scheduler entry: it runs one that Scheduler missed. */
		json_t *o = json_pack("{s:s, s:o, s:{s:s, s:s, s:b, s:o}}", "file", s->path,
				      "scheduler", native, "tick", "frequency", "Every 10 minutes",
				      "command", "jobrun tick", "required", n_rest > 0, "entries",
				      rest);
		char *out = json_dumps(o, JSON_COMPACT);
		printf("%s\n", out);
		free(out);
		json_decref(o);
	} else {
		json_decref(native);
		json_decref(rest);
		printf("Heroku Scheduler entries for %s (Scheduler runs in UTC):\n\n", s->path);
		fputs(buf_str(&text), stdout);
		if (n_rest)
			printf("  %-24s %-40s # the %zu entr%s below, and any above Scheduler "
			       "missed\n", "Every 10 minutes", "jobrun tick", n_rest,
			       n_rest == 1 ? "y" : "ies");
		else
			printf("  %-24s %-40s # optional: runs an entry above that Scheduler "
			       "missed\n", "Every 10 minutes", "jobrun tick");
		if (n_rest)
			printf("\nRun by `jobrun tick` (Scheduler cannot express them):\n%s",
			       buf_str(&tick));
		printf("\nEach slot runs once, by whichever of its entry's tick and the plain "
		       "tick claims it\nfirst. Do not enter the job commands themselves: they "
		       "claim no slot, so a tick\nor clock would run the same slot again.\n");
	}
	buf_release(&text);
	buf_release(&tick);
	return EXIT_OK;
}

/* ---- the command ----------------------------------------------------------- */

int cmd_schedule(int argc, char **argv, struct global_options *g)
{
	const char *from_text = NULL;
	long count = 3;
	bool heroku = false;
	const struct opt opts[] = {
		OPT_STRING("from", &from_text), OPT_LONG("count", &count),
		OPT_FLAG("heroku", 0, &heroku), OPT_TABLE_END,
	};
	int n = parse_options(argc, argv, opts, g, usage_schedule);
	if (n < 0)
		return options_exit_code(n);
	if (n > 0 && (!strcmp(argv[1], "pause") || !strcmp(argv[1], "resume") ||
		      !strcmp(argv[1], "run")))
		return schedule_cmd_verb(n, argv + 1, usage_schedule);
	if (n > 0)
		return usage_error(usage_schedule, "unknown subcommand '%s'", argv[1]);
	if (count < 1 || count > COUNT_MAX)
		return usage_error(usage_schedule, "--count must be 1 to %d", COUNT_MAX);
	long long from = (long long)clock_wall();
	if (from_text && tz_parse_rfc3339(from_text, &from))
		return usage_error(usage_schedule, "--from: '%s' is not an RFC 3339 time "
						   "(like 2025-03-09T00:00:00Z)", from_text);
	struct schedule s;
	if (schedule_load(schedule_path(), &s))
		return exit_code_for_error();
	int code = heroku ? print_heroku(&s, from, g->json) : list_with_pauses(&s, from, count, g->json);
	schedule_release(&s);
	return code;
}
