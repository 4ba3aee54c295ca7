#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "db.h"
#include "log.h"
#include "options.h"
#include "runs.h"

const char usage_runs[] =
	"usage: jobrun runs [--job J] [--status S] [--limit N] [--json]\n"
	"\n"
	"Show run history, newest first, like a task table.\n"
	"\n"
	"  --job J      only this job\n"
	"  --status S   only this status: running, succeeded, failed, partial,\n"
	"               interrupted, skipped, abandoned\n"
	"  --limit N    at most N runs (default 20)\n"
	"  --json       one JSON array with every column, summary included\n";

static const char runs_sql[] =
	"SELECT id, job, status, "
	"  to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	"  extract(epoch FROM coalesce(finished_at, now()) - started_at), "
	"  items_processed, items_succeeded, items_failed, api_requests, coalesce(error, ''), "
	"  summary::text, args::text, coalesce(dyno, host, '') "
	"FROM jobrun.runs "
	"WHERE ($1::text IS NULL OR job = $1) AND ($2::text IS NULL OR status = $2) "
	"ORDER BY id DESC LIMIT $3::bigint";

enum { C_ID, C_JOB, C_STATUS, C_STARTED, C_DURATION, C_PROC, C_OK, C_FAIL, C_API, C_ERROR,
       C_SUMMARY, C_ARGS, C_WHERE };

static void print_table(const struct db_result *r)
{
	printf("%-6s %-12s %-11s %-20s %9s %8s %8s %7s %6s  %s\n", "ID", "JOB", "STATUS", "STARTED",
	       "DURATION", "ITEMS", "OK", "FAILED", "API", "ERROR");
	for (int i = 0; i < db_rows(r); i++) {
		printf("%-6s %-12s %-11s %-20s %8.1fs %8s %8s %7s %6s  %.60s\n", db_value(r, i, C_ID),
		       db_value(r, i, C_JOB), db_value(r, i, C_STATUS), db_value(r, i, C_STARTED),
		       db_double(r, i, C_DURATION, 0), db_value(r, i, C_PROC), db_value(r, i, C_OK),
		       db_value(r, i, C_FAIL), db_value(r, i, C_API), db_value(r, i, C_ERROR));
	}
}

static json_t *row_json(const struct db_result *r, int i)
{
	const char *err = db_value(r, i, C_ERROR);
	return json_pack("{s:I, s:s, s:s, s:s, s:f, s:I, s:I, s:I, s:I, s:s?, s:o, s:o, s:s}", "id",
			 (json_int_t)db_ll(r, i, C_ID, 0), "job", db_value(r, i, C_JOB), "status",
			 db_value(r, i, C_STATUS), "started_at", db_value(r, i, C_STARTED),
			 "duration_s", db_double(r, i, C_DURATION, 0), "items_processed",
			 (json_int_t)db_ll(r, i, C_PROC, 0), "items_succeeded",
			 (json_int_t)db_ll(r, i, C_OK, 0), "items_failed",
			 (json_int_t)db_ll(r, i, C_FAIL, 0), "api_requests",
			 (json_int_t)db_ll(r, i, C_API, 0), "error", *err ? err : NULL, "summary",
			 json_loads(db_value(r, i, C_SUMMARY), 0, NULL), "args",
			 json_loads(db_value(r, i, C_ARGS), 0, NULL), "where", db_value(r, i, C_WHERE));
}

static void print_json(const struct db_result *r)
{
	json_t *list = json_array();
	for (int i = 0; i < db_rows(r); i++)
		json_array_append_new(list, row_json(r, i));
	char *text = json_dumps(list, JSON_COMPACT);
	printf("%s\n", text);
	free(text);
	json_decref(list);
}

int cmd_runs(int argc, char **argv, struct global_options *g)
{
	const char *job = NULL, *status = NULL;
	long limit = 20;
	const struct opt opts[] = {
		OPT_STRING("job", &job), OPT_STRING("status", &status), OPT_LONG("limit", &limit),
		OPT_TABLE_END,
	};
	int n = parse_options(argc, argv, opts, g, usage_runs);
	if (n < 0)
		return options_exit_code(n);
	if (n > 0)
		return usage_error(usage_runs, "runs takes no arguments");
	enum run_status parsed;
	if (status && run_status_parse(status, &parsed))
		return usage_error(usage_runs, "--status: unknown status '%s'", status);

	struct db *db;
	if (db_open(&db, 0))
		return exit_code_for_error();
	char limit_text[24];
	snprintf(limit_text, sizeof(limit_text), "%ld", limit);
	const char *params[] = { job, status, limit_text };
	struct db_result *r = db_query(db, runs_sql, 3, params);
	/* Decided before the result is freed: a freed pointer's value is
	 * indeterminate, even just to compare with NULL. */
	int code = r ? EXIT_OK : EXIT_FAILED;
	if (r) {
		if (g->json)
			print_json(r);
		else
			print_table(r);
	}
	db_result_free(r);
	db_close(db);
	return code;
}
