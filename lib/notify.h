/*
 * Notifications (DESIGN §6b): heartbeat pings around every run, and alerts
 * through a chat webhook (Slack, Discord or plain JSON) and mail to
 * ADMIN_EMAIL when a job fails, an entry is late or missed, and when it
 * recovers.
 *
 * Configuration (the environment, read once by notify_config_from_env()):
 *   JOBRUN_PING_URL       a URL template: {job} {entry} {event} {exit} {status}
 *                         {run} {duration} {duration_ms} {msg}, each value
 *                         percent-encoded; {event} is the word the map gives
 *   JOBRUN_PING_EVENTS    which events are sent and their words:
 *                         "start=/start,success=,failure=/fail". A word is URL
 *                         text (not encoded) and may hold placeholders other
 *                         than {event}; an event left out is not sent. Unset:
 *                         "success=success" (a plain heartbeat URL must not
 *                         hear a failure as a success)
 *   JOBRUN_WEBHOOK_URL    Slack incoming webhook or Discord webhook
 *   JOBRUN_WEBHOOK_FORMAT slack|discord|json; default from the host
 *                         (hooks.slack.com, discord.com, discordapp.com), else json
 *   JOBRUN_NOTIFY_ON      failures,late,missed,recovery (the default), all, none
 *   JOBRUN_NOTIFY_TIMEOUT the time all signals of one event may take (default 5s)
 *   ADMIN_EMAIL + a mail transport (lib/mail): alerts by mail too
 * A malformed variable is a config_error() naming it (exit 78 before any
 * work, as for SMTP_URL): a typo must not silently switch alerts off.
 *
 * Secrets: the ping and webhook URLs hold keys in their paths (hc-ping.com/
 * <key>/…, hooks.slack.com/services/…/<token>). Their key-like parts are
 * registered with redact_add() when read, and log lines, errors and run
 * records name only the host and the event.
 *
 * Delivery never changes a job's exit code and never loses its work: a
 * signal that fails is a warning in the log and an entry in the run
 * summary's "notifications" array. Each event's signals share one time
 * budget (JOBRUN_NOTIFY_TIMEOUT): every attempt's timeout is cut so that the
 * attempts (at most 3) and their backoff fit the signal's share.
 *
 * Pings are heartbeats: every run sends its own. Alerts are de-duplicated in
 * Postgres (jobrun.alerts): one alert per problem until it recovers, across
 * runs and processes, decided by the INSERT … ON CONFLICT DO NOTHING
 * RETURNING (or DELETE … RETURNING, for the recovery) that claims it.
 *
 * Ownership: struct notify owns its strings and mail configuration
 * (notify_release). struct notify_run's strings are borrowed for the call.
 */
#ifndef JOBRUN_NOTIFY_H
#define JOBRUN_NOTIFY_H

#include <jansson.h>
#include <stdbool.h>

#include "mail.h"

struct db;

enum notify_event { NOTIFY_START, NOTIFY_SUCCESS, NOTIFY_FAILURE, NOTIFY_EVENTS };

/* JOBRUN_NOTIFY_ON */
enum {
	NOTIFY_ON_FAILURES = 1, /* a run failed, ended partial, or was abandoned */
	NOTIFY_ON_LATE = 2,
	NOTIFY_ON_MISSED = 4,
	NOTIFY_ON_RECOVERY = 8,
	NOTIFY_ON_DEFAULT = 15,
};

enum notify_format { NOTIFY_FORMAT_SLACK, NOTIFY_FORMAT_DISCORD, NOTIFY_FORMAT_JSON };

#define NOTIFY_DEFAULT_TIMEOUT_S 5.0

struct notify {
	char *ping_url;                  /* the template; NULL: no pings */
	char *ping_word[NOTIFY_EVENTS];  /* {event} per event; NULL: not sent */
	char *ping_host;
	char *webhook_url;               /* NULL: no webhook */
	char *webhook_host;
	enum notify_format webhook_format;
	bool mail;                       /* ADMIN_EMAIL and a transport are set */
	struct mail_config mail_cfg;
	unsigned on;                     /* NOTIFY_ON_* */
	double budget_s;
};

int notify_config_from_env(struct notify *n);
void notify_release(struct notify *n);
/* "start", "success", "failure": the JOBRUN_PING_EVENTS names. */
const char *notify_event_name(enum notify_event e);
/* "slack", "discord", "json": the JOBRUN_WEBHOOK_FORMAT words. */
const char *notify_format_name(enum notify_format f);
/* Webhook or mail: the signals that are de-duplicated. */
bool notify_alerts_on(const struct notify *n);

/* One run, as pings and messages describe it. */
struct notify_run {
	const char *job;
	const char *entry;        /* JOBRUN_ENTRY (set by clock/tick), else NULL: the job */
	long long run_id;         /* 0: no run record (configuration, database) */
	const char *status;       /* run_status_name(); NULL at the start */
	int exit_code;            /* -1 at the start */
	double duration_s;        /* -1 at the start */
	long long processed, succeeded, failed;
	const char *error;        /* NULL when none; redacted again before use */
};

/* The start ping, inside the run: its time counts in the run, at most the
 * budget. Its result is appended to summary["notifications"] (the run's
 * summary object, borrowed; NULL: not recorded). */
void notify_run_started(const struct notify *n, const struct notify_run *r, json_t *summary);
/* After the run record is finished and the exit code decided: the end ping
 * (success, or failure for every other end but a skipped run), then the
 * job's alert (opened by a failed, partial or abandoned run, closed with a
 * recovery by a success), then the results appended to the run record's
 * summary. It runs under its own deadline (the run's is over: a SIGTERM
 * that stopped the run does not stop its failure ping; a second one does). */
void notify_run_finished(const struct notify *n, const struct notify_run *r);

/* An entry's state after a pass of `clock`, `tick` or `status --notify`:
 * "late" and "missed" open the entry's alert of that kind (one message
 * across processes until it clears); any other state closes open ones with
 * a recovery message. detail: what the state is about ("due 02:00 UTC"),
 * may be NULL. db: the caller's connection, outside a transaction. Returns
 * 1 when a message was sent, 0 when none was due, -1 on a database error
 * (reported as a warning; the caller carries on). */
int notify_entry_state(const struct notify *n, struct db *db, const char *entry, const char *job,
		       const char *state, const char *detail);

/* ------------------------------------------------ pure helpers (unit-tested) */

/* Expand a ping template for one event word: placeholders get the
 * percent-encoded values of v (NULL values are empty), {event} the word,
 * whose own placeholders are expanded too. A new string, or NULL with the
 * reason in why (an unknown placeholder, a brace without its pair, {event}
 * inside a word). */
struct notify_values {
	const char *job, *entry, *exit, *status, *run, *duration, *duration_ms, *msg;
};
char *notify_expand(const char *tmpl, const char *word, const struct notify_values *v, char *why,
		    size_t why_len);
/* "start=/start,success=,failure=/fail" into words[NOTIFY_EVENTS] (new
 * strings; NULL for events not listed). -1 with why on a bad item. */
int notify_parse_events(const char *s, char *words[NOTIFY_EVENTS], char *why, size_t why_len);
/* JOBRUN_NOTIFY_ON into NOTIFY_ON_* bits; -1 with why. */
int notify_parse_on(const char *s, unsigned *out, char *why, size_t why_len);
/* The bits back as words notify_parse_on reads: "failures,late", "none". */
void notify_on_text(unsigned on, char *out, size_t len);
/* The parts of a URL (template) that look like keys: path segments and
 * query values of 8 or more characters holding a digit, or of 16 or more,
 * outside placeholders; each is passed to add(). Words like "start",
 * "heartbeat" or "api" are left alone: redacting them would garble logs. */
void notify_url_secrets(const char *url, void (*add)(const char *secret));

/* What an alert says. */
enum notify_alert_kind {
	NOTIFY_ALERT_FAILED,    /* a run failed or ended partial */
	NOTIFY_ALERT_ABANDONED, /* a run's process died */
	NOTIFY_ALERT_RECOVERED, /* the job succeeded again */
	NOTIFY_ALERT_LATE,
	NOTIFY_ALERT_MISSED,
	NOTIFY_ALERT_ON_TIME,   /* the entry is back on schedule */
};

struct notify_alert {
	enum notify_alert_kind kind;
	const struct notify_run *run; /* the run concerned; for entries only job/entry */
	long long ref_run;       /* abandoned: that run; recovered: the run that opened it */
	long long occurrences;   /* recovered: failures while it was open */
	const char *since;       /* recovered: when it opened ("2025-07-01 02:00:00 UTC") */
	const char *detail;      /* entries: what the state is about */
};

/* The one-line message ("jobrun: primecache failed (exit 1, run 42): …"). */
char *notify_alert_text(const struct notify_alert *a);
/* The webhook body: Slack {"text"}, Discord {"content", "allowed_mentions"},
 * json {"event", "job", "entry", "status", "run_id", "exit_code", "error",
 * "items", "text"}. A new reference. */
json_t *notify_webhook_payload(enum notify_format f, const struct notify_alert *a);
/* The event name in the json format and in run summaries: "failed", … */
const char *notify_alert_name(enum notify_alert_kind k);

#endif
