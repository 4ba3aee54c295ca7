/*
 * Schema migrations compiled into the binary (lib/sql/NNNN_name.sql).
 *
 * Applied in order, each in its own transaction, recorded in
 * jobrun.schema_migrations. A session advisory lock serializes concurrent
 * runs: the second waits, then finds nothing pending.
 */
#ifndef JOBRUN_MIGRATE_H
#define JOBRUN_MIGRATE_H

#include <stdbool.h>

struct db;

struct migration {
	int version;
	const char *name;
	const char *sql;
};

/* The compiled-in list, ordered by version (generated into build/). */
extern const struct migration migrations[];
extern const int migrations_count;

int migrate_apply(struct db *db, int *applied);
/* For each migration: whether it is applied, and when (NULL if pending).
 * The callback's strings are borrowed. */
typedef void (*migrate_status_fn)(const struct migration *m, const char *applied_at, void *ctx);
int migrate_status(struct db *db, migrate_status_fn fn, void *ctx);
/* Highest applied version, 0 when none; -1 on error. */
int migrate_current_version(struct db *db);
int migrate_latest_version(void);
/* A schema newer than this binary (a newer jobrun migrated it): returns
 * config_error() saying which version to deploy; 0 when current is not newer. */
int migrate_refuse_newer(int current);

/* The objects a migration script creates and drops, in order, read from its
 * SQL: CREATE [OR REPLACE] [UNIQUE] SCHEMA|TABLE|INDEX|VIEW|SEQUENCE|FUNCTION
 * [IF NOT EXISTS] name, and DROP … [IF EXISTS] name. Names are qualified
 * ("jobrun.runs"; an index takes its table's schema; unqualified: public)
 * and lowercased; comments, string literals and dollar-quoted bodies are
 * skipped. kind is "schema", "table", … (borrowed for the call). */
typedef void (*migrate_object_fn)(bool create, const char *kind, const char *name, void *ctx);
void migrate_scan_objects(const char *sql, migrate_object_fn fn, void *ctx);
/* Check that every object the applied migrations (up to `version`) created
 * and did not drop exists. fn (may be NULL) is called once per missing
 * object. Returns how many are missing, -1 on error. The expected list comes
 * from the migrations themselves, so it cannot drift from them. */
typedef void (*migrate_missing_fn)(const char *kind, const char *name, void *ctx);
int migrate_check_objects(struct db *db, int version, migrate_missing_fn fn, void *ctx);

#endif
