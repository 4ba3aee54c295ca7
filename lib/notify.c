/*
 * Sending notifications: the pings around a run, the alerts it opens or
 * closes in jobrun.alerts, and the entries' late/missed alerts. What the
 * messages say is notify_message.c; the settings notify_config.c.
 */
#include "notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "deadline.h"
#include "http.h"
#include "log.h"
#include "redact.h"
#include "xalloc.h"

/* At most 3 attempts (2 retries) within a signal's share of the budget:
 * each attempt may use all that is left of it, so a slow endpoint gets its
 * time and a hanging one costs the share, never more. */
#define NOTIFY_MAX_ATTEMPTS 3
#define NOTIFY_RETRY_PAUSE_S 0.2
/* Less than this left is not worth a connection. */
#define NOTIFY_MIN_SHARE_S 0.2
/* The end phase's own deadline lies this far past its budget: it is the
 * backstop for the database statements, never what cuts an attempt short
 * (an attempt cut by the deadline would read "stopped", not "timed out"). */
#define NOTIFY_DEADLINE_SLACK_S 1.0

static const char *const event_names[NOTIFY_EVENTS] = { "start", "success", "failure" };

/* The time one event's signals share: each signal gets an equal part of
 * what is left, so a hanging ping leaves the webhook and mail their time. */
struct budget {
	double until;     /* clock_mono() */
	int signals;      /* signals still to send (at least 1 when asked) */
	bool own_deadline; /* the end phase: mail is bounded by setting the deadline */
};

static double share(struct budget *b)
{
	double left = b->until - clock_mono();
	int n = b->signals > 1 ? b->signals : 1;
	if (b->signals > 0)
		b->signals--;
	return left > 0 ? left / n : 0;
}

/* One attempt through lib/http that may take `s` seconds in all. */
static void http_cfg_for(double s, struct http_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_attempts = 1;
	cfg->timeout_s = s;
	cfg->connect_timeout_s = s;
	cfg->max_response_bytes = 64 * 1024;
}

/* Worth another attempt: no answer, or one lib/http would retry (5xx,
 * 408, 429). */
static bool retryable(int rc, const struct http_response *resp)
{
	if (rc)
		return resp->outcome == HTTP_GAVE_UP;
	enum http_class c = http_default_class(resp->status);
	return c == HTTP_CLASS_RETRY || c == HTTP_CLASS_RATE_LIMITED;
}

/* What went wrong, without lib/http's "<label>: gave up after 1 attempt: ". */
static const char *last_error(const struct http_response *resp, char *buf, size_t len)
{
	if (!resp->error[0]) {
		snprintf(buf, len, "HTTP %ld", resp->status);
		return buf;
	}
	const char *p = strstr(resp->error, "attempt: ");
	return p ? p + strlen("attempt: ") : resp->error;
}

static json_t *result_new(const char *signal, const char *event, const char *host)
{
	return json_pack("{s:s, s:s, s:s, s:b}", "signal", signal, "event", event, "host",
			 host ? host : "", "ok", 0);
}

static void result_failed(json_t *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void result_failed(json_t *res, const char *fmt, ...)
{
	char raw[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	char *safe = redact_string(raw);
	json_object_set_new(res, "error", json_string(safe));
	log_warn("notification failed", LF_S("signal", json_string_value(json_object_get(res, "signal"))),
		 LF_S("event", json_string_value(json_object_get(res, "event"))),
		 LF_S("host", json_string_value(json_object_get(res, "host"))), LF_S("error", safe));
	free(safe);
}

static void result_ok(json_t *res)
{
	json_object_set_new(res, "ok", json_true());
	log_info("notification sent", LF_S("signal", json_string_value(json_object_get(res, "signal"))),
		 LF_S("event", json_string_value(json_object_get(res, "event"))),
		 LF_S("host", json_string_value(json_object_get(res, "host"))));
}

/* One request within its share, retried on errors a retry can fix. The
 * label names the host only: the path and query hold the keys. */
static json_t *send_http(const char *signal, const char *event, const char *host, const char *url,
			 const char *body, struct budget *b)
{
	json_t *res = result_new(signal, event, host);
	double s = share(b);
	double until = clock_mono() + s;
	char label[160], last[512] = "";
	snprintf(label, sizeof(label), "%s %s", signal, host ? host : "");
	const char *headers[] = { "Content-Type: application/json", NULL };
	struct http_request req = {
		.method = body ? "POST" : "GET",
		.url = url,
		.headers = body ? headers : NULL,
		.body = body,
		.body_len = body ? strlen(body) : 0,
		.label = label,
	};
	int attempts = 0;
	bool ok = false;
	while (attempts < NOTIFY_MAX_ATTEMPTS) {
		double left = until - clock_mono();
		if (left < NOTIFY_MIN_SHARE_S)
			break;
		if (attempts && deadline_sleep(NOTIFY_RETRY_PAUSE_S))
			break; /* a signal: stop here */
		struct http_config cfg;
		http_cfg_for(left - (attempts ? NOTIFY_RETRY_PAUSE_S : 0), &cfg);
		struct http_client *c = http_client_new(&cfg, NULL);
		struct http_response resp;
		int rc = http_send(c, &req, &resp);
		attempts++;
		ok = !rc && resp.status >= 200 && resp.status <= 299;
		char tmp[64];
		snprintf(last, sizeof(last), "%s", last_error(&resp, tmp, sizeof(tmp)));
		bool again = !ok && retryable(rc, &resp);
		http_response_release(&resp);
		http_client_free(c);
		if (!again)
			break;
	}
	json_object_set_new(res, "attempts", json_integer(attempts));
	if (ok)
		result_ok(res);
	else if (!attempts)
		result_failed(res, "%s: not sent, the %.1fs budget was spent", label, s);
	else
		result_failed(res, "%s: %d attempt%s within the %.1fs budget, the last: %s", label,
			      attempts, attempts == 1 ? "" : "s", s, last);
	return res;
}

/* ------------------------------------------------------------------ pings */

static json_t *send_ping(const struct notify *n, enum notify_event e, const struct notify_run *r,
			 struct budget *b)
{
	char exit_code[16] = "", run[24] = "", dur[32] = "", dur_ms[32] = "";
	if (r->exit_code >= 0)
		snprintf(exit_code, sizeof(exit_code), "%d", r->exit_code);
	if (r->run_id > 0)
		snprintf(run, sizeof(run), "%lld", r->run_id);
	if (r->duration_s >= 0) {
		snprintf(dur, sizeof(dur), "%.3f", r->duration_s);
		snprintf(dur_ms, sizeof(dur_ms), "%.0f", r->duration_s * 1000);
	}
	struct buf msg = BUF_INIT;
	if (e == NOTIFY_START)
		buf_addf(&msg, "%s started", r->job);
	else
		buf_addf(&msg, "%s %s (exit %d)%s%s", r->job, r->status ? r->status : "failed",
			 r->exit_code, r->error && *r->error ? ": " : "", r->error ? r->error : "");
	char *safe_msg = redact_string(buf_str(&msg));
	buf_release(&msg);
	struct notify_values v = {
		.job = r->job, .entry = r->entry ? r->entry : r->job, .exit = exit_code,
		.status = r->status ? r->status : "running", .run = run, .duration = dur,
		.duration_ms = dur_ms, .msg = safe_msg,
	};
	char why[256];
	char *url = notify_expand(n->ping_url, n->ping_word[e], &v, why, sizeof(why));
	free(safe_msg);
	json_t *res;
	if (!url) {
		/* Checked at start; only a bug gets here. */
		res = result_new("ping", event_names[e], n->ping_host);
		result_failed(res, "JOBRUN_PING_URL: %s", why);
		return res;
	}
	res = send_http("ping", event_names[e], n->ping_host, url, NULL, b);
	free(url);
	return res;
}

static void append_result(json_t *summary, json_t *res)
{
	json_t *list = json_object_get(summary, "notifications");
	if (!json_is_array(list)) {
		list = json_array();
		json_object_set_new(summary, "notifications", list);
	}
	json_array_append_new(list, res);
}

void notify_run_started(const struct notify *n, const struct notify_run *r, json_t *summary)
{
	if (!n->ping_url || !n->ping_word[NOTIFY_START])
		return;
	struct budget b = { .until = clock_mono() + n->budget_s, .signals = 1 };
	json_t *res = send_ping(n, NOTIFY_START, r, &b);
	if (summary)
		append_result(summary, res);
	else
		json_decref(res);
}

/* ----------------------------------------------------------------- alerts */

static json_t *send_webhook(const struct notify *n, const struct notify_alert *a, struct budget *b)
{
	const char *event = notify_alert_name(a->kind);
	json_t *payload = notify_webhook_payload(n->webhook_format, a);
	char *body = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
	json_decref(payload);
	json_t *res;
	if (!body) {
		res = result_new("webhook", event, n->webhook_host);
		share(b);
		result_failed(res, "could not build the message (invalid text)");
		return res;
	}
	res = send_http("webhook", event, n->webhook_host, n->webhook_url, body, b);
	free(body);
	return res;
}

static char *mail_body(const struct notify_alert *a, const char *text)
{
	const struct notify_run *r = a->run;
	struct buf b = BUF_INIT;
	buf_addf(&b, "%s\n\njob: %s\n", text, r->job);
	if (r->entry)
		buf_addf(&b, "schedule entry: %s\n", r->entry);
	if (r->status)
		buf_addf(&b, "status: %s\n", r->status);
	if (r->exit_code >= 0)
		buf_addf(&b, "exit code: %d\n", r->exit_code);
	long long run = a->kind == NOTIFY_ALERT_ABANDONED ? a->ref_run : r->run_id;
	if (run > 0)
		buf_addf(&b, "run: %lld (jobrun runs shows it)\n", run);
	if (r->status)
		buf_addf(&b, "items: %lld processed, %lld succeeded, %lld failed\n", r->processed,
			 r->succeeded, r->failed);
	if (r->error && *r->error)
		buf_addf(&b, "error: %s\n", r->error);
	if (a->detail)
		buf_addf(&b, "detail: %s\n", a->detail);
	buf_adds(&b, "\nOne message per problem: the next comes when it recovers.\n");
	char *safe = redact_string(buf_str(&b));
	buf_release(&b);
	return safe;
}

static json_t *send_mail(const struct notify *n, const struct notify_alert *a, struct budget *b)
{
	json_t *res = result_new("mail", notify_alert_name(a->kind), n->mail_cfg.server);
	double s = share(b);
	if (s < NOTIFY_MIN_SHARE_S) {
		result_failed(res, "not sent: the notification time was spent");
		return res;
	}
	/* lib/mail bounds its transfer by the deadline (and never less than
	 * its own stop grace): in the end phase, the deadline is ours. */
	if (b->own_deadline)
		deadline_start(s);
	char *text = notify_alert_text(a);
	char *subject = redact_string(text);
	char *body = mail_body(a, subject);
	/* Bounded by the share itself too: where the phase's deadline is not
	 * ours (clock, tick, status), lib/mail would allow up to its own 30 s. */
	struct mail_message msg = { .subject = subject, .body = body, .max_time_s = s };
	struct mail_result mr;
	if (mail_send(&n->mail_cfg, &msg, &mr))
		result_failed(res, "%s", mr.error);
	else
		result_ok(res);
	json_object_set_new(res, "recipients", json_integer((json_int_t)mr.recipients));
	if (b->own_deadline) {
		/* Never 0: that would mean no deadline at all. */
		double left = b->until - clock_mono() + NOTIFY_DEADLINE_SLACK_S;
		deadline_start(left > 0.1 ? left : 0.1);
	}
	free(text);
	free(subject);
	free(body);
	return res;
}

static void send_alert(const struct notify *n, const struct notify_alert *a, struct budget *b,
		       json_t *results)
{
	if (n->webhook_url)
		json_array_append_new(results, send_webhook(n, a, b));
	if (n->mail)
		json_array_append_new(results, send_mail(n, a, b));
}

static void alert_warn(const char *what, const char *subject)
{
	const char *err = error_last();
	log_warn("alert state not updated; no alert sent", LF_S("what", what), LF_S("subject", subject),
		 LF_S("error", err ? err : "database error"));
}

/* Open the problem: 1 when this process claimed it (and sends the alert),
 * 0 when it was open already, -1 on error. A job's failure that finished
 * before one of its successes opens nothing: runs finish their records,
 * then notify, outside the job's lock, so their notifications can arrive
 * in any order; the records' finish times decide. */
static int claim(struct db *db, const char *problem, const char *kind, const char *subject,
		 long long run_id, long long reporter, const char *detail, bool job)
{
	char run[24], by[24];
	snprintf(run, sizeof(run), "%lld", run_id > 0 ? run_id : 0);
	snprintf(by, sizeof(by), "%lld", reporter > 0 ? reporter : 0);
	const char *params[] = { problem, kind, subject, run, detail, by };
	struct db_result *r = db_query(
		db,
		/* The reporting run does not count: a success reporting the
		 * run abandoned before it still opens the problem (and closes
		 * it at once). */
		job ? "INSERT INTO jobrun.alerts (problem, kind, subject, run_id, detail) "
		      "SELECT $1, $2, $3, nullif($4::bigint, 0), $5 WHERE NOT EXISTS ("
		      "  SELECT 1 FROM jobrun.runs s JOIN jobrun.runs me ON me.id = $4::bigint "
		      "  WHERE s.job = $3 AND s.status = 'succeeded' "
		      "  AND s.finished_at > me.finished_at AND s.id <> $6::bigint) "
		      "ON CONFLICT (problem) DO NOTHING RETURNING 1"
		    : "INSERT INTO jobrun.alerts (problem, kind, subject, run_id, detail) "
		      "VALUES ($1, $2, $3, nullif($4::bigint, 0), $5) "
		      "ON CONFLICT (problem) DO NOTHING RETURNING 1",
		job ? 6 : 5, params);
	if (!r)
		return -1;
	int claimed = db_rows(r) > 0;
	db_result_free(r);
	if (!claimed && job &&
	    db_exec(db,
		    "UPDATE jobrun.alerts SET occurrences = occurrences + 1, last_seen_at = now() "
		    "WHERE problem = $1",
		    1, params))
		return -1;
	return claimed;
}

/* Close the problems p1 and p2: 1 when this process closed one (and sends
 * the recovery), with what it says in *since and *count; 0 when none was
 * open. A success that finished before the failure that opened it closes
 * nothing. */
static int close_problems(struct db *db, const char *p1, const char *p2, long long run_id,
			  char *since, size_t since_len, long long *count)
{
	char run[24];
	snprintf(run, sizeof(run), "%lld", run_id > 0 ? run_id : 0);
	const char *params[] = { p1, p2 ? p2 : p1, run };
	struct db_result *r = db_query(
		db,
		"WITH closed AS (DELETE FROM jobrun.alerts a WHERE problem IN ($1, $2) "
		"  AND ($3::bigint = 0 OR coalesce("
		"    (SELECT finished_at FROM jobrun.runs WHERE id = a.run_id) <= "
		"    (SELECT finished_at FROM jobrun.runs WHERE id = $3::bigint), true)) "
		"  RETURNING opened_at, occurrences) "
		"SELECT to_char(min(opened_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"'), "
		"  sum(occurrences)::bigint FROM closed HAVING count(*) > 0",
		3, params);
	if (!r)
		return -1;
	int closed = db_rows(r) > 0;
	if (closed) {
		snprintf(since, since_len, "%s", db_value(r, 0, 0) ? db_value(r, 0, 0) : "");
		*count = db_ll(r, 0, 1, 0);
	}
	db_result_free(r);
	return closed;
}

/* The newest run of this job that was marked abandoned since this run
 * started (its own start marks the dead ones): 0 when none. */
static long long abandoned_since(struct db *db, const char *job, long long run_id)
{
	char run[24];
	snprintf(run, sizeof(run), "%lld", run_id);
	const char *params[] = { job, run };
	struct db_result *r = db_query(
		db,
		"SELECT a.id FROM jobrun.runs a JOIN jobrun.runs me ON me.id = $2::bigint "
		"WHERE a.job = $1 AND a.status = 'abandoned' AND a.id <> me.id "
		"AND a.finished_at >= me.started_at ORDER BY a.id DESC LIMIT 1",
		2, params);
	if (!r)
		return -1;
	long long id = db_rows(r) ? db_ll(r, 0, 0, 0) : 0;
	db_result_free(r);
	return id;
}

static bool is_status(const struct notify_run *r, const char *a, const char *b)
{
	return r->status && (!strcmp(r->status, a) || (b && !strcmp(r->status, b)));
}

static void run_alerts(const struct notify *n, const struct notify_run *r, struct db *db,
		       struct budget *b, json_t *results)
{
	char problem[160];
	snprintf(problem, sizeof(problem), "job:%s", r->job);
	struct notify_alert a = { .run = r };
	if (r->run_id > 0) {
		long long dead = abandoned_since(db, r->job, r->run_id);
		if (dead < 0) {
			alert_warn("abandoned runs", r->job);
		} else if (dead > 0) {
			int c = claim(db, problem, "failing", r->job, dead, r->run_id, "abandoned", true);
			if (c < 0)
				alert_warn("abandoned run", r->job);
			a.kind = NOTIFY_ALERT_ABANDONED;
			a.ref_run = dead;
			if (c > 0 && (n->on & NOTIFY_ON_FAILURES))
				send_alert(n, &a, b, results);
		}
	}
	if (is_status(r, "failed", "partial")) {
		int c = claim(db, problem, "failing", r->job, r->run_id, r->run_id, r->status, true);
		if (c < 0)
			alert_warn("failure", r->job);
		a.kind = NOTIFY_ALERT_FAILED;
		if (c > 0 && (n->on & NOTIFY_ON_FAILURES))
			send_alert(n, &a, b, results);
	} else if (is_status(r, "succeeded", NULL)) {
		char since[64] = "";
		long long count = 0;
		int c = close_problems(db, problem, NULL, r->run_id, since, sizeof(since), &count);
		if (c < 0)
			alert_warn("recovery", r->job);
		a.kind = NOTIFY_ALERT_RECOVERED;
		a.since = since;
		a.occurrences = count;
		if (c > 0 && (n->on & NOTIFY_ON_RECOVERY))
			send_alert(n, &a, b, results);
	}
}

/* summary.notifications gets this phase's results after the start ping's. */
static void record(struct db *db, long long run_id, json_t *results)
{
	char run[24];
	snprintf(run, sizeof(run), "%lld", run_id);
	char *raw = json_dumps(results, JSON_COMPACT);
	char *safe = redact_string(raw ? raw : "[]");
	free(raw);
	const char *params[] = { run, safe };
	if (db_exec(db,
		    "UPDATE jobrun.runs SET summary = jsonb_set(summary, '{notifications}', "
		    "coalesce(summary->'notifications', '[]'::jsonb) || $2::jsonb) WHERE id = $1::bigint",
		    2, params))
		log_warn("could not record the notifications in the run record", LF_I("run", run_id));
	free(safe);
}

static struct db *open_db(const struct notify *n)
{
	struct db *db = NULL;
	if (db_open(&db, n->budget_s)) {
		log_warn("notifications: no database; alerts are not sent without it",
			 LF_S("error", error_last() ? error_last() : ""));
		return NULL;
	}
	return db;
}

void notify_run_finished(const struct notify *n, const struct notify_run *r)
{
	if (is_status(r, "skipped", NULL))
		return;
	enum notify_event e = is_status(r, "succeeded", NULL) ? NOTIFY_SUCCESS : NOTIFY_FAILURE;
	bool ping = n->ping_url && n->ping_word[e];
	bool alerts = notify_alerts_on(n) && (e == NOTIFY_FAILURE || r->run_id > 0);
	if (!ping && !alerts)
		return;
	/* The run is over and its exit code decided: from here on the
	 * deadline is the notifications' own, and a SIGTERM that stopped the
	 * run no longer stops its failure ping (a second one does). */
	deadline_reset();
	deadline_start(n->budget_s + NOTIFY_DEADLINE_SLACK_S);
	struct budget b = {
		.until = clock_mono() + n->budget_s,
		.signals = ping + (n->webhook_url != NULL) + n->mail,
		.own_deadline = true,
	};
	json_t *results = json_array();
	if (ping)
		json_array_append_new(results, send_ping(n, e, r, &b));
	struct db *db = NULL;
	if (alerts && (db = open_db(n)))
		run_alerts(n, r, db, &b, results);
	if (r->run_id > 0 && json_array_size(results) && (db || (db = open_db(n))))
		record(db, r->run_id, results);
	db_close(db);
	json_decref(results);
}

/* ---------------------------------------------------------------- entries */

int notify_entry_state(const struct notify *n, struct db *db, const char *entry, const char *job,
		       const char *state, const char *detail)
{
	if (!notify_alerts_on(n))
		return 0;
	char late[200], missed[200];
	snprintf(late, sizeof(late), "entry:%s:late", entry);
	snprintf(missed, sizeof(missed), "entry:%s:missed", entry);
	struct notify_run r = { .job = job, .entry = entry, .exit_code = -1, .duration_s = -1 };
	struct notify_alert a = { .run = &r, .detail = detail };
	struct budget b = { .until = clock_mono() + n->budget_s,
			    .signals = (n->webhook_url != NULL) + n->mail };
	json_t *results = json_array();
	int ret = 0;
	bool is_late = !strcmp(state, "late"), is_missed = !strcmp(state, "missed");
	if (is_late || is_missed) {
		int c = claim(db, is_late ? late : missed, state, entry, 0, 0, detail, false);
		unsigned want = is_late ? NOTIFY_ON_LATE : NOTIFY_ON_MISSED;
		a.kind = is_late ? NOTIFY_ALERT_LATE : NOTIFY_ALERT_MISSED;
		if (c > 0 && (n->on & want))
			send_alert(n, &a, &b, results), ret = 1;
		if (c < 0)
			ret = -1;
	} else if (!strcmp(state, "ok") || !strcmp(state, "running") || !strcmp(state, "failing")) {
		/* It ran again. Paused and never-run entries keep what is open. */
		char since[64] = "";
		long long count = 0;
		int c = close_problems(db, late, missed, 0, since, sizeof(since), &count);
		a.kind = NOTIFY_ALERT_ON_TIME;
		a.since = since;
		a.detail = NULL;
		if (c > 0 && (n->on & NOTIFY_ON_RECOVERY))
			send_alert(n, &a, &b, results), ret = 1;
		if (c < 0)
			ret = -1;
	}
	if (ret < 0)
		alert_warn(state, entry);
	json_decref(results);
	return ret;
}
