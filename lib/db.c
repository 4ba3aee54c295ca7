#include "db.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "deadline.h"
#include "log.h"
#include "redact.h"
#include "xalloc.h"

/* How late a stop or the deadline is noticed while the server works. */
#define DB_POLL_SLICE_MS 100
/* A server that has not answered a cancel request by then is given up. */
#define DB_CANCEL_WAIT_S 1.0
/* libpq's connect_timeout is ours to enforce on an asynchronous connect. */
#define DB_CONNECT_TIMEOUT_S 10.0

struct db {
	PGconn *conn;
	char sqlstate[6];
	bool stopped;   /* a wait was cancelled because the run is stopping */
	bool cancelled; /* … the current one: its 57014 is ours, not a timeout */
	bool lost;      /* the connection is gone or unusable */
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

/* A connection string libpq cannot parse still must not leak its password
 * through the parse error (some quote the whole URL or the bad token): find
 * it the simple way, in both forms. */
static void register_password_guess(const char *s)
{
	const char *auth = strstr(s, "://");
	if (auth) {
		auth += 3;
		const char *at = strchr(auth, '@');
		const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon) {
			char *pw = xstrndup(colon + 1, (size_t)(at - colon - 1));
			redact_add(pw);
			free(pw);
		}
		return;
	}
	for (const char *p = strstr(s, "password"); p; p = strstr(p + 1, "password")) {
		const char *v = p + strlen("password");
		v += strspn(v, " \t\n");
		if (*v != '=')
			continue;
		v++;
		v += strspn(v, " \t\n");
		size_t len = *v == '\'' ? strcspn(++v, "'") : strcspn(v, " \t\n");
		char *pw = xstrndup(v, len);
		redact_add(pw);
		free(pw);
	}
}

/* The connection string's own host and sslmode, through libpq's parser
 * (URL and keyword=value alike); registers its password. */
static int url_facts(const char *url, bool *local, bool *has_sslmode)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &err);
	if (!opts) {
		register_password_guess(url);
		char *msg = xstrdup(err ? err : "out of memory");
		PQfreemem(err);
		one_line(msg);
		config_error("DATABASE_URL: %s", msg);
		free(msg);
		return -1;
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

static void note_error(struct db *db, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	snprintf(db->sqlstate, sizeof(db->sqlstate), "%s", state ? state : "");
}

/* Connection exceptions (08…) and the server shutting the session down
 * (57P01 admin, 57P02 crash, 57P03 not yet up) end the session. */
static bool ends_session(const char *sqlstate)
{
	return !strncmp(sqlstate, "08", 2) || !strcmp(sqlstate, "57P01") ||
	       !strcmp(sqlstate, "57P02") || !strcmp(sqlstate, "57P03");
}

static int report(struct db *db, const PGresult *res, const char *what)
{
	note_error(db, res);
	if (PQstatus(db->conn) == CONNECTION_BAD || ends_session(db->sqlstate))
		db->lost = true;
	if (db->cancelled && !strcmp(db->sqlstate, "57014"))
		return error("database: %s: cancelled because the run is stopping (%s)", what,
			     deadline_reason_name(deadline_reason()));
	const char *text = res ? PQresultErrorMessage(res) : "";
	char *msg = xstrdup(*text ? text : PQerrorMessage(db->conn));
	one_line(msg);
	error("database: %s%s: %s", db->lost ? "connection lost: " : "", what,
	      *msg ? msg : "unknown error");
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

/* The stop policy of one wait: once a stop is requested the wait may go on
 * for DB_STOP_GRACE_S from the moment it first saw the stop, so work issued
 * while stopping (the last commit, the run record) still gets its turn. */
struct waiter {
	double stop_seen; /* when this wait first saw a stop; < 0: not yet */
};

static bool past_grace(struct waiter *w)
{
	if (!deadline_should_stop())
		return false;
	double now = clock_mono();
	if (w->stop_seen < 0)
		w->stop_seen = now;
	return now >= w->stop_seen + DB_STOP_GRACE_S;
}

/* Wait up to one slice for the socket; a signal ends the slice early (the
 * handlers are installed without SA_RESTART). 1: ready, 0: not yet. */
static int wait_socket(int sock, short events)
{
	if (sock < 0)
		return 1; /* between hosts: libpq knows what to do next */
	struct pollfd p = { .fd = sock, .events = events };
	int n = poll(&p, 1, DB_POLL_SLICE_MS);
	if (n < 0 && errno != EINTR)
		return 1; /* let libpq find out what is wrong with the socket */
	return n > 0;
}

/* Effective connect_timeout (URL, keyword, PGCONNECT_TIMEOUT), else ours;
 * libpq enforces it only on blocking connects. */
static double connect_timeout(PGconn *conn)
{
	double timeout = DB_CONNECT_TIMEOUT_S;
	PQconninfoOption *opts = PQconninfo(conn);
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (!strcmp(o->keyword, "connect_timeout") && o->val && atoi(o->val) > 0)
			timeout = atoi(o->val) < 2 ? 2 : atoi(o->val); /* libpq's minimum */
	PQconninfoFree(opts);
	return timeout;
}

/* Drive an asynchronous connect to its end. 0 when connected; otherwise
 * PQerrorMessage() or *why says what went wrong. */
static int connect_wait(PGconn *conn, const char **why)
{
	struct waiter w = { -1 };
	double give_up = clock_mono() + connect_timeout(conn);
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	*why = NULL;
	for (;;) {
		if (st == PGRES_POLLING_OK)
			return 0;
		if (st == PGRES_POLLING_FAILED)
			return -1;
		if (past_grace(&w)) {
			*why = "stopped while connecting";
			return -1;
		}
		if (clock_mono() >= give_up) {
			*why = "timeout expired";
			return -1;
		}
		if (wait_socket(PQsocket(conn), st == PGRES_POLLING_READING ? POLLIN : POLLOUT))
			st = PQconnectPoll(conn);
	}
}

/* libpq names a failed attempt at a server "connection to server …" and a
 * failed name lookup "could not translate host name …". A connect that ends
 * before either can happen was refused for its options: a configuration
 * error, like a connection string that does not parse. */
static bool attempted_server(const char *msg)
{
	return strstr(msg, "connection to server") || strstr(msg, "could not translate host name");
}

static int connect_failed(PGconn *conn, const char *why, bool at_start, const char *source)
{
	char *msg = xstrdup(why ? why : conn ? PQerrorMessage(conn) : "out of memory");
	one_line(msg);
	int ret;
	if (at_start && conn && !attempted_server(msg))
		ret = config_error("%s: %s", source, msg);
	else
		ret = error("cannot connect to the database: %s", msg);
	free(msg);
	PQfinish(conn);
	return ret;
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
	const char *source = url ? "DATABASE_URL" : "database settings (PG* variables)";
	if (!local && !has_sslmode)
		keys[n] = "sslmode", vals[n++] = "require";
	keys[n] = "application_name", vals[n++] = "jobrun";
	if (statement_timeout_s > 0) {
		snprintf(options, sizeof(options), "-c statement_timeout=%.0f", statement_timeout_s * 1000);
		keys[n] = "options", vals[n++] = options;
	}
	keys[n] = NULL, vals[n] = NULL;

	/* Asynchronous, so that a stop is noticed while connecting too. */
	PGconn *conn = PQconnectStartParams(keys, vals, 1);
	if (!conn || PQstatus(conn) == CONNECTION_BAD)
		return connect_failed(conn, NULL, true, source);
	const char *why;
	if (connect_wait(conn, &why))
		return connect_failed(conn, why, false, source);
	/* Whatever form the password came in (URL, keyword, PGPASSWORD, a
	 * password file), this is the one in use. */
	redact_add(PQpass(conn));
	/* Queries are sent without blocking, so a full socket cannot stall a
	 * stop either. */
	if (PQsetnonblocking(conn, 1))
		return connect_failed(conn, NULL, false, source);
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

char *db_describe(struct db *db)
{
	const char *host = PQhost(db->conn);
	return xasprintf("host %s port %s database %s user %s",
			 host && *host ? host : "(default socket)", PQport(db->conn), PQdb(db->conn),
			 PQuser(db->conn));
}

static void send_cancel(struct db *db)
{
	char err[256] = "";
	PGcancel *c = PQgetCancel(db->conn);
	if (!c || !PQcancel(c, err, sizeof(err)))
		log_debug("database cancel request failed", LF_S("error", c ? err : "no connection"));
	PQfreeCancel(c);
}

/* Wait until libpq holds a whole result (PQisBusy false), sending what it
 * still has queued meanwhile. Past the stop grace the statement is
 * cancelled; a server that then stays silent loses the connection. -1 when
 * the connection failed (the caller reports it). */
static int await(struct db *db, struct waiter *w)
{
	double cancelled_at = -1;
	for (;;) {
		int pending = PQflush(db->conn);
		if (pending < 0)
			return -1;
		if (!pending && !PQisBusy(db->conn))
			return 0;
		if (cancelled_at < 0 && past_grace(w)) {
			db->stopped = db->cancelled = true;
			send_cancel(db);
			cancelled_at = clock_mono();
		} else if (cancelled_at >= 0 && clock_mono() >= cancelled_at + DB_CANCEL_WAIT_S) {
			db->lost = true;
			return error("database: the server did not answer a cancel request; "
				     "giving the connection up");
		}
		if (wait_socket(PQsocket(db->conn), POLLIN | (pending ? POLLOUT : 0)) &&
		    !PQconsumeInput(db->conn))
			return -1;
	}
}

static bool failed(const PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);
	return st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK && st != PGRES_EMPTY_QUERY &&
	       st != PGRES_COPY_IN;
}

/* Every result of what was sent. The first failure wins, else the last
 * result; COPY IN is returned at once (the data is the caller's to send).
 * NULL when the connection failed or was given up (reported). */
static PGresult *collect(struct db *db, struct waiter *w, const char *what)
{
	PGresult *keep = NULL;
	for (;;) {
		if (await(db, w)) {
			PQclear(keep);
			if (!db->lost) /* else await() said why */
				report(db, NULL, what);
			return NULL;
		}
		PGresult *res = PQgetResult(db->conn);
		if (!res)
			return keep;
		if (PQresultStatus(res) == PGRES_COPY_IN) {
			PQclear(keep);
			return res;
		}
		if (keep && failed(keep)) {
			PQclear(res);
			continue;
		}
		PQclear(keep);
		keep = res;
	}
}

/* Send and wait: a failure is reported and gives NULL. */
static PGresult *exchange(struct db *db, const char *sql, int nparams, const char *const *params,
			  bool script, const char *what)
{
	if (db->lost) {
		error("database: %s: the connection was lost earlier", what);
		return NULL;
	}
	db->cancelled = false;
	int sent = script ? PQsendQuery(db->conn, sql)
			  : PQsendQueryParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (!sent) {
		report(db, NULL, what);
		return NULL;
	}
	struct waiter w = { -1 };
	PGresult *res = collect(db, &w, what);
	if (res && failed(res)) {
		report(db, res, what);
		PQclear(res);
		return NULL;
	}
	return res;
}

struct db_result *db_query(struct db *db, const char *sql, int nparams, const char *const *params)
{
	PGresult *res = exchange(db, sql, nparams, params, false, "query failed");
	if (!res)
		return NULL;
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
	PGresult *res = exchange(db, sql, 0, NULL, true, "script failed");
	PQclear(res);
	return res ? 0 : -1;
}

int db_rows(const struct db_result *r)
{
	return PQntuples(r->res);
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
	 * still valid then, and harmless outside a transaction. A lost session
	 * was rolled back by the server; trying would only bury the error that
	 * lost it. */
	if (db->lost || PQtransactionStatus(db->conn) == PQTRANS_IDLE)
		return 0;
	return db_exec(db, "ROLLBACK", 0, NULL);
}

int db_copy_in(struct db *db, const char *copy_sql, const char *data, size_t len)
{
	PGresult *res = exchange(db, copy_sql, 0, NULL, true, "COPY failed to start");
	if (!res)
		return -1;
	bool copying = PQresultStatus(res) == PGRES_COPY_IN;
	PQclear(res);
	if (!copying)
		return error("database: COPY failed to start: not a COPY … FROM STDIN");
	/* One stop grace for the whole load. libpq buffers; hand it the data in
	 * bounded chunks, letting the socket drain when its buffer is full. */
	struct waiter w = { -1 };
	size_t off = 0;
	int rc = 1;
	while (off < len && rc >= 0) {
		size_t chunk = len - off > (1 << 20) ? (1 << 20) : len - off;
		rc = PQputCopyData(db->conn, data + off, (int)chunk);
		if (rc == 1)
			off += chunk;
		else if (rc == 0 && await(db, &w))
			rc = -1;
	}
	/* After a failed send the server may have ended the COPY itself (a
	 * cancel, an error): end it if not, and take its answer either way, so
	 * the connection is ready for the next statement. */
	const char *abort_why = off == len ? NULL : "client error";
	while ((rc = PQputCopyEnd(db->conn, abort_why)) == 0)
		if (await(db, &w))
			break;
	if (db->lost)
		return -1;
	res = collect(db, &w, "COPY failed");
	if (!res)
		return -1;
	int ret = 0;
	if (failed(res) || rc < 0 || off < len)
		ret = report(db, failed(res) ? res : NULL, "COPY failed");
	PQclear(res);
	return ret;
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

bool db_was_stopped(const struct db *db)
{
	return db && db->stopped;
}

bool db_is_lost(const struct db *db)
{
	return db && db->lost;
}
