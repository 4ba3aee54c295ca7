#include "migrate.h"

#include <stdio.h>
#include <stdlib.h>

#include "db.h"
#include "log.h"

#define MIGRATE_LOCK "jobrun:migrate"

/* Created outside the numbered migrations: it records them. Runs under the
 * migrate lock, because concurrent CREATE … IF NOT EXISTS can still collide. */
static const char bootstrap_sql[] =
	"CREATE SCHEMA IF NOT EXISTS jobrun;"
	"CREATE TABLE IF NOT EXISTS jobrun.schema_migrations ("
	"  version integer PRIMARY KEY,"
	"  name text NOT NULL,"
	"  applied_at timestamptz NOT NULL DEFAULT now())";

static int is_applied(struct db_result *applied, int version)
{
	for (int i = 0; i < db_rows(applied); i++)
		if (db_ll(applied, i, 0, -1) == version)
			return 1;
	return 0;
}

static int apply_one(struct db *db, const struct migration *m)
{
	char version[16];
	snprintf(version, sizeof(version), "%d", m->version);
	const char *params[] = { version, m->name };
	if (db_begin(db))
		return -1;
	if (db_exec_script(db, m->sql) ||
	    db_exec(db, "INSERT INTO jobrun.schema_migrations (version, name) VALUES ($1, $2)", 2,
		    params) ||
	    db_commit(db)) {
		db_rollback(db);
		return error("migration %04d_%s failed; nothing of it was applied", m->version, m->name);
	}
	log_info("applied migration", LF_I("version", m->version), LF_S("name", m->name));
	return 0;
}

int migrate_apply(struct db *db, int *applied)
{
	struct db_result *done = NULL;
	int ret = -1;
	*applied = 0;
	if (db_lock_wait(db, MIGRATE_LOCK))
		return -1;
	if (db_exec_script(db, bootstrap_sql))
		goto out;
	done = db_query(db, "SELECT version FROM jobrun.schema_migrations", 0, NULL);
	if (!done)
		goto out;
	for (int i = 0; i < migrations_count; i++) {
		if (is_applied(done, migrations[i].version))
			continue;
		if (apply_one(db, &migrations[i]))
			goto out;
		(*applied)++;
	}
	ret = 0;
out:
	db_result_free(done);
	db_unlock(db, MIGRATE_LOCK);
	return ret;
}

/* Applied versions with their time (the table must exist). */
static struct db_result *applied_versions(struct db *db)
{
	return db_query(db,
			"SELECT version, to_char(applied_at AT TIME ZONE 'UTC', "
			"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM jobrun.schema_migrations",
			0, NULL);
}

static int schema_exists(struct db *db, int *exists)
{
	struct db_result *r =
		db_query(db, "SELECT to_regclass('jobrun.schema_migrations') IS NOT NULL", 0, NULL);
	if (!r)
		return -1;
	*exists = db_bool(r, 0, 0);
	db_result_free(r);
	return 0;
}

int migrate_status(struct db *db, migrate_status_fn fn, void *ctx)
{
	int exists;
	if (schema_exists(db, &exists))
		return -1;
	struct db_result *r = exists ? applied_versions(db) : NULL;
	if (exists && !r)
		return -1;
	for (int i = 0; i < migrations_count; i++) {
		const char *when = NULL;
		for (int row = 0; r && row < db_rows(r); row++)
			if (db_ll(r, row, 0, -1) == migrations[i].version)
				when = db_value(r, row, 1);
		fn(&migrations[i], when, ctx);
	}
	db_result_free(r);
	return 0;
}

int migrate_current_version(struct db *db)
{
	int exists;
	if (schema_exists(db, &exists))
		return -1;
	if (!exists)
		return 0;
	struct db_result *r =
		db_query(db, "SELECT coalesce(max(version), 0) FROM jobrun.schema_migrations", 0, NULL);
	if (!r)
		return -1;
	int v = (int)db_ll(r, 0, 0, 0);
	db_result_free(r);
	return v;
}

int migrate_latest_version(void)
{
	return migrations_count ? migrations[migrations_count - 1].version : 0;
}
