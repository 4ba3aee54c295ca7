/*
 * What an alert says: one line of text, and the webhook body around it in
 * the format the receiving service reads. Pure (test/unit/test_notify.c).
 */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xalloc.h"

/* Discord refuses content over 2000 characters; a short message is the
 * point anyway. Counted in bytes, cut on a UTF-8 boundary. */
#define NOTIFY_TEXT_MAX 1500

const char *notify_alert_name(enum notify_alert_kind k)
{
	switch (k) {
	case NOTIFY_ALERT_FAILED: return "failed";
	case NOTIFY_ALERT_ABANDONED: return "abandoned";
	case NOTIFY_ALERT_RECOVERED: return "recovered";
	case NOTIFY_ALERT_LATE: return "late";
	case NOTIFY_ALERT_MISSED: return "missed";
	case NOTIFY_ALERT_ON_TIME: return "on_time";
	}
	return "unknown";
}

/* A run's message is about its job (its problem is the job's); an entry's
 * about the entry. */
static const char *subject_of(const struct notify_alert *a)
{
	const struct notify_run *r = a->run;
	bool entry = a->kind == NOTIFY_ALERT_LATE || a->kind == NOTIFY_ALERT_MISSED ||
		     a->kind == NOTIFY_ALERT_ON_TIME;
	return entry && r->entry && *r->entry ? r->entry : r->job;
}

static void add_counts(struct buf *b, const struct notify_run *r)
{
	if (r->processed || r->failed)
		buf_addf(b, "; %lld processed, %lld succeeded, %lld failed", r->processed, r->succeeded,
			 r->failed);
}

static void add_run(struct buf *b, long long id)
{
	if (id > 0)
		buf_addf(b, "run %lld", id);
	else
		buf_adds(b, "no run record");
}

static void cut(struct buf *b)
{
	if (b->len <= NOTIFY_TEXT_MAX)
		return;
	size_t n = NOTIFY_TEXT_MAX;
	while (n && ((unsigned char)b->data[n] & 0xC0) == 0x80)
		n--;
	b->data[n] = '\0';
	b->len = n;
	buf_adds(b, "…");
}

char *notify_alert_text(const struct notify_alert *a)
{
	const struct notify_run *r = a->run;
	struct buf b = BUF_INIT;
	buf_addf(&b, "jobrun: %s ", subject_of(a));
	switch (a->kind) {
	case NOTIFY_ALERT_FAILED:
		buf_addf(&b, "%s (exit %d, ", r->status ? r->status : "failed", r->exit_code);
		add_run(&b, r->run_id);
		buf_adds(&b, ")");
		if (r->error && *r->error)
			buf_addf(&b, ": %s", r->error);
		add_counts(&b, r);
		break;
	case NOTIFY_ALERT_ABANDONED:
		buf_addf(&b, "run %lld was abandoned: its process ended without finishing it", a->ref_run);
		break;
	case NOTIFY_ALERT_RECOVERED:
		buf_adds(&b, "recovered: ");
		add_run(&b, r->run_id);
		buf_adds(&b, " succeeded");
		if (a->since)
			buf_addf(&b, " (failing since %s, %lld failed run%s)", a->since, a->occurrences,
				 a->occurrences == 1 ? "" : "s");
		break;
	case NOTIFY_ALERT_LATE:
		buf_adds(&b, "is late");
		break;
	case NOTIFY_ALERT_MISSED:
		buf_adds(&b, "missed a run");
		break;
	case NOTIFY_ALERT_ON_TIME:
		buf_adds(&b, "is back on schedule");
		if (a->since)
			buf_addf(&b, " (late or missed since %s)", a->since);
		break;
	}
	if (a->detail && *a->detail)
		buf_addf(&b, ": %s", a->detail);
	/* One line: an error may carry newlines. */
	for (size_t i = 0; i < b.len; i++)
		if (b.data[i] == '\n' || b.data[i] == '\r')
			b.data[i] = ' ';
	cut(&b);
	return buf_detach(&b);
}

/* Slack's mrkdwn needs &, < and > escaped, and only those. */
static char *slack_escape(const char *s)
{
	struct buf b = BUF_INIT;
	for (const char *p = s; *p; p++) {
		if (*p == '&')
			buf_adds(&b, "&amp;");
		else if (*p == '<')
			buf_adds(&b, "&lt;");
		else if (*p == '>')
			buf_adds(&b, "&gt;");
		else
			buf_addch(&b, *p);
	}
	return buf_detach(&b);
}

static json_t *json_str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

json_t *notify_webhook_payload(enum notify_format f, const struct notify_alert *a)
{
	char *text = notify_alert_text(a);
	json_t *o = NULL;
	switch (f) {
	case NOTIFY_FORMAT_SLACK: {
		char *esc = slack_escape(text);
		o = json_pack("{s:s}", "text", esc);
		free(esc);
		break;
	}
	case NOTIFY_FORMAT_DISCORD:
		/* No @everyone or role pings from an error message. */
		o = json_pack("{s:s, s:{s:[]}}", "content", text, "allowed_mentions", "parse");
		break;
	case NOTIFY_FORMAT_JSON: {
		const struct notify_run *r = a->run;
		long long run = a->kind == NOTIFY_ALERT_ABANDONED ? a->ref_run : r->run_id;
		o = json_pack("{s:s, s:s, s:o, s:o, s:o, s:s}", "event", notify_alert_name(a->kind),
			      "job", r->job, "entry", json_str_or_null(r->entry), "status",
			      json_str_or_null(r->status), "run_id",
			      run > 0 ? json_integer(run) : json_null(), "text", text);
		if (o && r->exit_code >= 0)
			json_object_set_new(o, "exit_code", json_integer(r->exit_code));
		if (o && r->status)
			json_object_set_new(o, "items",
					    json_pack("{s:I, s:I, s:I}", "processed",
						      (json_int_t)r->processed, "succeeded",
						      (json_int_t)r->succeeded, "failed",
						      (json_int_t)r->failed));
		if (o)
			json_object_set_new(o, "error", json_str_or_null(r->error));
		if (o && a->detail)
			json_object_set_new(o, "detail", json_string(a->detail));
		break;
	}
	}
	free(text);
	return o;
}
