#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "buf.h"
#include "commands.h"
#include "db.h"
#include "log.h"
#include "migrate.h"
#include "options.h"

const char usage_migrate[] =
	"usage: jobrun migrate [--status]\n"
	"\n"
	"Apply the schema migrations compiled into this binary, in order, each in its\n"
	"own transaction. Safe to run twice or twice at once (the second waits).\n"
	"Heroku runs it in the release phase (Procfile: release: jobrun migrate).\n"
	"\n"
	"  --status   list applied and pending migrations; exit 1 if any is pending\n";

struct status_ctx {
	bool json;
	int pending;
	json_t *list;
};

static void print_status(const struct migration *m, const char *applied_at, void *arg)
{
	struct status_ctx *ctx = arg;
	if (!applied_at)
		ctx->pending++;
	if (ctx->json) {
		json_array_append_new(ctx->list, json_pack("{s:i, s:s, s:s?}", "version", m->version,
							   "name", m->name, "applied_at", applied_at));
		return;
	}
	printf("%04d  %-24s %s\n", m->version, m->name, applied_at ? applied_at : "pending");
}

static int show_status(struct db *db, bool json)
{
	struct status_ctx ctx = { json, 0, json_array() };
	int ret = migrate_status(db, print_status, &ctx);
	if (!ret && json) {
		char *text = json_dumps(ctx.list, JSON_COMPACT);
		printf("%s\n", text);
		free(text);
	}
	json_decref(ctx.list);
	if (ret)
		return EXIT_FAILED;
	return ctx.pending ? EXIT_FAILED : EXIT_OK;
}

static void list_missing(const char *kind, const char *name, void *ctx)
{
	struct buf *b = ctx;
	buf_addf(b, "%s%s %s", b->len ? ", " : "", kind, name);
}

/* Objects the recorded migrations created that are gone (a dropped schema,
 * a restored partial dump). Re-applying a migration that is recorded as
 * applied could damage what is left, so migrate only says what is missing. */
static int check_objects(struct db *db)
{
	struct buf list = BUF_INIT;
	int version = migrate_current_version(db);
	int missing = version < 0 ? -1 : migrate_check_objects(db, version, list_missing, &list);
	if (missing > 0)
		error("schema version %d is recorded, but %d of the objects its migrations create %s "
		      "missing: %s. migrate does not re-create them: restore them, or drop what is "
		      "left of that schema, delete its versions from jobrun.schema_migrations and "
		      "run migrate again",
		      version, missing, missing == 1 ? "is" : "are", buf_str(&list));
	buf_release(&list);
	return missing ? -1 : 0;
}

int cmd_migrate(int argc, char **argv, struct global_options *g)
{
	bool status = false;
	const struct opt opts[] = { OPT_FLAG("status", 0, &status), OPT_TABLE_END };
	int n = parse_options(argc, argv, opts, g, usage_migrate);
	if (n < 0)
		return options_exit_code(n);
	if (n > 0)
		return usage_error(usage_migrate, "migrate takes no arguments");

	struct db *db;
	if (db_open(&db, 0))
		return exit_code_for_error();
	int code, current = migrate_current_version(db);
	if (current < 0) {
		code = EXIT_FAILED;
	} else if (migrate_refuse_newer(current)) {
		/* Migrating backwards is not a thing: the release must not go on. */
		code = EXIT_CONFIG;
	} else if (status) {
		code = show_status(db, g->json);
		if (code == EXIT_OK && check_objects(db))
			code = EXIT_FAILED;
	} else {
		int applied = 0;
		code = migrate_apply(db, &applied) || check_objects(db) ? EXIT_FAILED : EXIT_OK;
		if (!code)
			log_info("schema is up to date", LF_I("applied", applied),
				 LF_I("version", migrate_latest_version()));
	}
	db_close(db);
	return code;
}
