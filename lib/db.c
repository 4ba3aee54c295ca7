#include "db.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "redact.h"
#include "xalloc.h"

struct db {
	PGconn *conn;
	char sqlstate[6];
};

struct db_result {
	PGresult *res;
};

static bool host_is_local(const char *host)
{
	if (!host || !*host || host[0] == '/')
		return true;
	return !strcmp(host, "localhost") || !strcmp(host, "127.0.0.1") || !strcmp(host, "::1");
}

/* The URL's own host and sslmode, through libpq's parser. */
static int url_facts(const char *url, bool *local, bool *has_sslmode)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &err);
	if (!opts) {
		PQfreemem(err);
		return config_error("DATABASE_URL is not a valid PostgreSQL connection URL");
	}
	*local = true;
	*has_sslmode = false;
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!strcmp(o->keyword, "host") && o->val)
			*local = host_is_local(o->val);
		if (!strcmp(o->keyword, "hostaddr") && o->val)
			*local = *local && host_is_local(o->val);
		if (!strcmp(o->keyword, "sslmode") && o->val)
			*has_sslmode = true;
		if (!strcmp(o->keyword, "password") && o->val)
			redact_add(o->val);
	}
	PQconninfoFree(opts);
	return 0;
}

/* libpq's message without its trailing newline, on one line. */
static void one_line(char *s)
{
	size_t len = strlen(s);
	while (len && (s[len - 1] == '\n' || s[len - 1] == ' '))
		s[--len] = '\0';
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
}

static void note_error(struct db *db, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	snprintf(db->sqlstate, sizeof(db->sqlstate), "%s", state ? state : "");
}

static int report(struct db *db, const PGresult *res, const char *what)
{
	note_error(db, res);
	char *msg = xstrdup(res ? PQresultErrorMessage(res) : PQerrorMessage(db->conn));
	one_line(msg);
	error("database: %s: %s", what, *msg ? msg : "unknown error");
	free(msg);
	return -1;
}

/* Server notices ("relation already exists, skipping") are not ours to
 * print on stderr: they go to the debug log. */
static void on_notice(void *arg, const char *message)
{
	(void)arg;
	char *msg = xstrdup(message);
	one_line(msg);
	log_debug("database notice", LF_S("notice", msg));
	free(msg);
}

int db_open(struct db **out, double statement_timeout_s)
{
	const char *url = config_get("DATABASE_URL");
	const char *keys[8], *vals[8];
	int n = 0;
	bool local = true, has_sslmode = false;
	char options[64];
	*out = NULL;

	if (url) {
		if (url_facts(url, &local, &has_sslmode))
			return -1;
		keys[n] = "dbname", vals[n++] = url;
	} else if (!config_get("PGHOST") && !config_get("PGDATABASE")) {
		return config_error("DATABASE_URL is not set");
	}
	if (!local && !has_sslmode)
		keys[n] = "sslmode", vals[n++] = "require";
	keys[n] = "application_name", vals[n++] = "jobrun";
	if (!config_get("PGCONNECT_TIMEOUT"))
		keys[n] = "connect_timeout", vals[n++] = "10";
	if (statement_timeout_s > 0) {
		snprintf(options, sizeof(options), "-c statement_timeout=%.0f", statement_timeout_s * 1000);
		keys[n] = "options", vals[n++] = options;
	}
	keys[n] = NULL, vals[n] = NULL;

	PGconn *conn = PQconnectdbParams(keys, vals, 1);
	if (!conn || PQstatus(conn) != CONNECTION_OK) {
		char *msg = xstrdup(conn ? PQerrorMessage(conn) : "out of memory");
		one_line(msg);
		error("cannot connect to the database: %s", msg);
		free(msg);
		PQfinish(conn);
		return -1;
	}
	PQsetNoticeProcessor(conn, on_notice, NULL);
	struct db *db = xcalloc(1, sizeof(*db));
	db->conn = conn;
	*out = db;
	return 0;
}

void db_close(struct db *db)
{
	if (!db)
		return;
	PQfinish(db->conn);
	free(db);
}

char *db_describe_target(void)
{
	const char *url = config_get("DATABASE_URL");
	if (!url) {
		const char *host = config_get("PGHOST"), *name = config_get("PGDATABASE");
		return xasprintf("PG* environment (host %s, database %s)", host ? host : "default",
				 name ? name : "default");
	}
	return redact_string(url);
}

struct db_result *db_query(struct db *db, const char *sql, int nparams, const char *const *params)
{
	PGresult *res = PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		report(db, res, "query failed");
		PQclear(res);
		return NULL;
	}
	struct db_result *r = xmalloc(sizeof(*r));
	r->res = res;
	return r;
}

int db_exec(struct db *db, const char *sql, int nparams, const char *const *params)
{
	struct db_result *r = db_query(db, sql, nparams, params);
	if (!r)
		return -1;
	db_result_free(r);
	return 0;
}

int db_exec_script(struct db *db, const char *sql)
{
	PGresult *res = PQexec(db->conn, sql);
	ExecStatusType st = PQresultStatus(res);
	int ret = 0;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		ret = report(db, res, "script failed");
	PQclear(res);
	return ret;
}

int db_rows(const struct db_result *r)
{
	return PQntuples(r->res);
}

int db_cols(const struct db_result *r)
{
	return PQnfields(r->res);
}

const char *db_value(const struct db_result *r, int row, int col)
{
	if (PQgetisnull(r->res, row, col))
		return NULL;
	return PQgetvalue(r->res, row, col);
}

long long db_ll(const struct db_result *r, int row, int col, long long if_null)
{
	const char *v = db_value(r, row, col);
	return v ? strtoll(v, NULL, 10) : if_null;
}

double db_double(const struct db_result *r, int row, int col, double if_null)
{
	const char *v = db_value(r, row, col);
	return v ? strtod(v, NULL) : if_null;
}

bool db_bool(const struct db_result *r, int row, int col)
{
	const char *v = db_value(r, row, col);
	return v && v[0] == 't';
}

long long db_affected(const struct db_result *r)
{
	const char *n = PQcmdTuples(r->res);
	return *n ? strtoll(n, NULL, 10) : 0;
}

void db_result_free(struct db_result *r)
{
	if (!r)
		return;
	PQclear(r->res);
	free(r);
}

int db_begin(struct db *db)
{
	return db_exec(db, "BEGIN", 0, NULL);
}

int db_commit(struct db *db)
{
	return db_exec(db, "COMMIT", 0, NULL);
}

int db_rollback(struct db *db)
{
	/* After a failed statement the transaction is aborted; ROLLBACK is
	 * still valid then, and harmless outside a transaction. */
	if (PQtransactionStatus(db->conn) == PQTRANS_IDLE)
		return 0;
	return db_exec(db, "ROLLBACK", 0, NULL);
}

int db_copy_in(struct db *db, const char *copy_sql, const char *data, size_t len)
{
	PGresult *res = PQexec(db->conn, copy_sql);
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		report(db, res, "COPY failed to start");
		PQclear(res);
		return -1;
	}
	PQclear(res);
	/* libpq buffers; hand it the data in bounded chunks. */
	size_t off = 0;
	while (off < len) {
		size_t chunk = len - off > (1 << 20) ? (1 << 20) : len - off;
		if (PQputCopyData(db->conn, data + off, (int)chunk) != 1) {
			PQputCopyEnd(db->conn, "client error");
			break;
		}
		off += chunk;
	}
	int ret = 0;
	if (off == len && PQputCopyEnd(db->conn, NULL) != 1)
		ret = report(db, NULL, "COPY failed");
	while ((res = PQgetResult(db->conn))) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && !ret)
			ret = report(db, res, "COPY failed");
		PQclear(res);
	}
	return off == len ? ret : -1;
}

void db_copy_field(struct buf *row, const char *value, bool first)
{
	if (!first)
		buf_addch(row, '\t');
	if (!value) {
		buf_adds(row, "\\N");
		return;
	}
	/* Bulk loads spend their time here: copy the runs between escapes whole. */
	for (const char *p = value; *p;) {
		size_t run = strcspn(p, "\\\t\n\r");
		buf_add(row, p, run);
		p += run;
		switch (*p) {
		case '\\': buf_adds(row, "\\\\"); break;
		case '\t': buf_adds(row, "\\t"); break;
		case '\n': buf_adds(row, "\\n"); break;
		case '\r': buf_adds(row, "\\r"); break;
		default: continue; /* end of the value */
		}
		p++;
	}
}

void db_copy_end_row(struct buf *row)
{
	buf_addch(row, '\n');
}

static int lock_query(struct db *db, const char *sql, const char *key, bool *result)
{
	const char *params[] = { key };
	struct db_result *r = db_query(db, sql, 1, params);
	if (!r)
		return -1;
	if (result)
		*result = db_bool(r, 0, 0);
	db_result_free(r);
	return 0;
}

int db_try_lock(struct db *db, const char *key, bool *acquired)
{
	return lock_query(db, "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", key, acquired);
}

int db_lock_wait(struct db *db, const char *key)
{
	return lock_query(db, "SELECT pg_advisory_lock(hashtextextended($1, 0))", key, NULL);
}

int db_unlock(struct db *db, const char *key)
{
	return lock_query(db, "SELECT pg_advisory_unlock(hashtextextended($1, 0))", key, NULL);
}

const char *db_last_sqlstate(struct db *db)
{
	return db->sqlstate;
}
