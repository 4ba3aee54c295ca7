/*
 * PostgreSQL access, the only place that includes libpq.
 *
 * Parameterized statements only. Errors are reported through error() with the
 * server's message (never the connection string) and return -1 / NULL.
 *
 * Every wait on the server (connecting, statements, COPY) polls the socket in
 * short slices and watches deadline_should_stop(): once a stop is requested a
 * statement may still run DB_STOP_GRACE_S (the batch in hand commits, the run
 * record is finished), then it is cancelled with a cancel request. So a run
 * blocked on another session's lock still stops within the 5 s promise.
 *
 * Ownership: db_open() gives the caller a struct db to db_close(). Every
 * struct db_result from db_query() is the caller's to db_result_free().
 * Values returned by db_value() live as long as their result.
 */
#ifndef JOBRUN_DB_H
#define JOBRUN_DB_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct db;
struct db_result;

/* Once stopping, how long one statement (or connection attempt) may still
 * take before it is cancelled. Two such waits and the exit fit in 5 s. */
#define DB_STOP_GRACE_S 1.5

/* Connect using DATABASE_URL (a postgresql:// URL or libpq's keyword=value
 * form; sslmode=require is added unless the host is local or it sets
 * sslmode), or libpq's PG* variables when DATABASE_URL is unset but
 * PGHOST/PGDATABASE are. statement_timeout_s <= 0: none. The password, in
 * whatever form it was given, is registered with redact_add().
 * A malformed DATABASE_URL or an option libpq rejects is a config_error()
 * carrying libpq's message; a server that cannot be reached is an error(). */
int db_open(struct db **out, double statement_timeout_s);
void db_close(struct db *db);
/* Where a connection went: "host H port P database D user U" (new string;
 * never the password). */
char *db_describe(struct db *db);

struct db_result *db_query(struct db *db, const char *sql, int nparams, const char *const *params);
int db_exec(struct db *db, const char *sql, int nparams, const char *const *params);
/* Run a script of several statements without parameters (migrations). */
int db_exec_script(struct db *db, const char *sql);

int db_rows(const struct db_result *r);
/* NULL for SQL NULL. */
const char *db_value(const struct db_result *r, int row, int col);
long long db_ll(const struct db_result *r, int row, int col, long long if_null);
double db_double(const struct db_result *r, int row, int col, double if_null);
bool db_bool(const struct db_result *r, int row, int col);
/* Rows a command touched (UPDATE/DELETE/INSERT). */
long long db_affected(const struct db_result *r);
void db_result_free(struct db_result *r);

int db_begin(struct db *db);
int db_commit(struct db *db);
int db_rollback(struct db *db);

/* Bulk load: run `copy_sql` (a COPY … FROM STDIN in text format) and send
 * `data`, built with db_copy_field()/db_copy_end_row(). */
int db_copy_in(struct db *db, const char *copy_sql, const char *data, size_t len);
/* Append one text-format COPY field (NULL → \N), tab-separated from the last. */
void db_copy_field(struct buf *row, const char *value, bool first);
void db_copy_end_row(struct buf *row);

/* Session advisory locks keyed by a string (hashed in SQL). */
int db_try_lock(struct db *db, const char *key, bool *acquired);
int db_lock_wait(struct db *db, const char *key);
int db_unlock(struct db *db, const char *key);

/* Name of the server's error for the last failed call (SQLSTATE), or "". */
const char *db_last_sqlstate(struct db *db);
/* A wait on this connection was cancelled because the run is stopping.
 * NULL-safe. */
bool db_was_stopped(const struct db *db);
/* The server went away (or never answered a cancel): every later call fails.
 * NULL-safe. */
bool db_is_lost(const struct db *db);

#endif
