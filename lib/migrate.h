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

#endif
