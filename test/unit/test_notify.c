/*
 * Unit tests for lib/notify's pure parts: the ping template and its
 * escaping, the event map, JOBRUN_NOTIFY_ON, which URL parts are secrets,
 * the alert text and the webhook bodies, and the webhook format from the
 * URL's host.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "notify.h"

static const struct notify_values vals = {
	.job = "primecache", .entry = "nightly run/a&b", .exit = "3", .status = "partial",
	.run = "42", .duration = "1.500", .duration_ms = "1500", .msg = "100% done? no: x=1",
};

static void assert_expands(const char *tmpl, const char *word, const char *want)
{
	char why[256] = "";
	char *got = notify_expand(tmpl, word, &vals, why, sizeof(why));
	if (!got)
		fail_msg("%s: %s", tmpl, why);
	assert_string_equal(got, want);
	free(got);
}

static void assert_expand_fails(const char *tmpl, const char *word, const char *why_part)
{
	char why[256] = "";
	char *got = notify_expand(tmpl, word, &vals, why, sizeof(why));
	if (got)
		fail_msg("%s expanded to %s", tmpl, got);
	if (!strstr(why, why_part))
		fail_msg("why '%s' lacks '%s'", why, why_part);
}

static void test_expand(void **state)
{
	(void)state;
	assert_expands("https://hc-ping.com/k{event}", "/fail", "https://hc-ping.com/k/fail");
	assert_expands("https://hc-ping.com/k{event}", "", "https://hc-ping.com/k");
	/* A word's own placeholders are expanded (and escaped); the word is not. */
	assert_expands("https://hc-ping.com/k{event}", "/{exit}", "https://hc-ping.com/k/3");
	assert_expands("https://x/p?state={event}&m={msg}", "run",
		       "https://x/p?state=run&m=100%25%20done%3F%20no%3A%20x%3D1");
	assert_expands("https://x/{job}/{entry}", NULL, "https://x/primecache/nightly%20run%2Fa%26b");
	assert_expands("https://x/?s={status}&r={run}&d={duration}&ms={duration_ms}", NULL,
		       "https://x/?s=partial&r=42&d=1.500&ms=1500");
	struct notify_values empty = { 0 };
	char why[64];
	char *got = notify_expand("https://x/{exit}/{run}", NULL, &empty, why, sizeof(why));
	assert_string_equal(got, "https://x//");
	free(got);
}

static void test_expand_errors(void **state)
{
	(void)state;
	assert_expand_fails("https://x/{jbo}", "", "unknown placeholder {jbo}");
	assert_expand_fails("https://x/{job", "", "'{' at position 11 is not closed");
	assert_expand_fails("https://x/job}", "", "'}' at position 14 has no '{'");
	assert_expand_fails("https://x/{event}", "/{event}", "an event word cannot hold {event}");
	assert_expand_fails("https://x/{event}", "/{nope}", "unknown placeholder {nope}");
}

static void test_parse_events(void **state)
{
	(void)state;
	char *w[NOTIFY_EVENTS], why[256];
	assert_int_equal(notify_parse_events("start=/start,success=,failure=/fail", w, why,
					     sizeof(why)), 0);
	assert_string_equal(w[NOTIFY_START], "/start");
	assert_string_equal(w[NOTIFY_SUCCESS], "");
	assert_string_equal(w[NOTIFY_FAILURE], "/fail");
	for (int e = 0; e < NOTIFY_EVENTS; e++)
		free(w[e]);
	assert_int_equal(notify_parse_events(" success = up , failure=down", w, why, sizeof(why)), 0);
	assert_null(w[NOTIFY_START]);
	assert_string_equal(w[NOTIFY_SUCCESS], "up");
	assert_string_equal(w[NOTIFY_FAILURE], "down");
	for (int e = 0; e < NOTIFY_EVENTS; e++)
		free(w[e]);
	assert_int_equal(notify_parse_events("start=a,finish=b", w, why, sizeof(why)), -1);
	assert_string_equal(why, "item 2: unknown event 'finish' (events: start, success, failure)");
	assert_int_equal(notify_parse_events("start", w, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "item 1: expected event=word"));
	assert_int_equal(notify_parse_events("start=a,start=b", w, why, sizeof(why)), -1);
	assert_string_equal(why, "item 2: event 'start' is listed twice");
	assert_int_equal(notify_parse_events("start=a,,", w, why, sizeof(why)), -1);
	for (int e = 0; e < NOTIFY_EVENTS; e++)
		assert_null(w[e]);
}

static void test_parse_on(void **state)
{
	(void)state;
	unsigned on;
	char why[256];
	assert_int_equal(notify_parse_on("failures,recovery", &on, why, sizeof(why)), 0);
	assert_int_equal(on, NOTIFY_ON_FAILURES | NOTIFY_ON_RECOVERY);
	assert_int_equal(notify_parse_on("all", &on, why, sizeof(why)), 0);
	assert_int_equal(on, NOTIFY_ON_DEFAULT);
	assert_int_equal(notify_parse_on("none", &on, why, sizeof(why)), 0);
	assert_int_equal(on, 0);
	assert_int_equal(notify_parse_on(" late , missed ", &on, why, sizeof(why)), 0);
	assert_int_equal(on, NOTIFY_ON_LATE | NOTIFY_ON_MISSED);
	assert_int_equal(notify_parse_on("failures,nope", &on, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "unknown word 'nope'"));
}

/* doctor shows JOBRUN_NOTIFY_ON in words notify_parse_on reads back. */
static void test_on_text(void **state)
{
	(void)state;
	char text[64];
	unsigned on;
	notify_on_text(NOTIFY_ON_DEFAULT, text, sizeof(text));
	assert_string_equal(text, "failures,late,missed,recovery");
	notify_on_text(NOTIFY_ON_LATE | NOTIFY_ON_RECOVERY, text, sizeof(text));
	assert_string_equal(text, "late,recovery");
	notify_on_text(0, text, sizeof(text));
	assert_string_equal(text, "none");
	char why[256];
	notify_on_text(NOTIFY_ON_MISSED | NOTIFY_ON_FAILURES, text, sizeof(text));
	assert_int_equal(notify_parse_on(text, &on, why, sizeof(why)), 0);
	assert_int_equal(on, NOTIFY_ON_MISSED | NOTIFY_ON_FAILURES);
}

static char seen[16][128];
static int n_seen;
static void collect(const char *s)
{
	snprintf(seen[n_seen++ % 16], sizeof(seen[0]), "%s", s);
}

static const char *secrets_of(const char *url)
{
	static char out[1024];
	n_seen = 0;
	notify_url_secrets(url, collect);
	out[0] = '\0';
	for (int i = 0; i < n_seen; i++)
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", i ? " " : "", seen[i]);
	return out;
}

static void test_url_secrets(void **state)
{
	(void)state;
	assert_string_equal(secrets_of("https://hc-ping.com/5e0f3a4c-9b7d-4c1e-8f2a-6d3b1c0e9a47"
				       "{event}"),
			    "5e0f3a4c-9b7d-4c1e-8f2a-6d3b1c0e9a47");
	assert_string_equal(secrets_of("https://cronitor.link/p/cr0n1t0rk3y0123456789abcdefabcd/"
				       "nightly-backup?state={event}"),
			    "cr0n1t0rk3y0123456789abcdefabcd");
	assert_string_equal(secrets_of("https://o450000.ingest.sentry.io/api/4505/cron/nightly/"
				       "5en7ryk3y0123456789abcdefabcdef0/?status={event}"),
			    "5en7ryk3y0123456789abcdefabcdef0");
	assert_string_equal(secrets_of("https://nosnch.in/c2354d53d2?s={exit}&m={msg}"), "c2354d53d2");
	assert_string_equal(secrets_of("https://uptime.betterstack.com/api/v1/heartbeat/"
				       "Ha3KSq6RjzrNVwjWGP5vYU7Y"),
			    "Ha3KSq6RjzrNVwjWGP5vYU7Y");
	assert_string_equal(secrets_of("https://hooks.slack.com/services/T0001/B0002/"
				       "xoxbWebhookToken1234abcd"),
			    "xoxbWebhookToken1234abcd");
	/* Words stay: redacting "heartbeat" would garble every log line. */
	assert_string_equal(secrets_of("https://x.example/api/push/heartbeat/in_progress?status=done"),
			    "");
}

static const struct notify_run run = {
	.job = "primecache", .run_id = 42, .status = "failed", .exit_code = 1, .duration_s = 2,
	.processed = 10, .succeeded = 8, .failed = 2, .error = "ComicVine said <no> & left",
};

static void assert_text(const struct notify_alert *a, const char *want)
{
	char *got = notify_alert_text(a);
	assert_string_equal(got, want);
	free(got);
}

static void test_alert_text(void **state)
{
	(void)state;
	struct notify_alert a = { .kind = NOTIFY_ALERT_FAILED, .run = &run };
	assert_text(&a, "jobrun: primecache failed (exit 1, run 42): ComicVine said <no> & left; "
			"10 processed, 8 succeeded, 2 failed");
	a = (struct notify_alert){ .kind = NOTIFY_ALERT_RECOVERED, .run = &run, .occurrences = 3,
				   .since = "2025-07-01 02:00:00 UTC" };
	assert_text(&a, "jobrun: primecache recovered: run 42 succeeded (failing since 2025-07-01 "
			"02:00:00 UTC, 3 failed runs)");
	a = (struct notify_alert){ .kind = NOTIFY_ALERT_ABANDONED, .run = &run, .ref_run = 41 };
	assert_text(&a, "jobrun: primecache run 41 was abandoned: its process ended without "
			"finishing it");
	struct notify_run entry = { .job = "primecache", .entry = "primecache-daily", .exit_code = -1 };
	a = (struct notify_alert){ .kind = NOTIFY_ALERT_LATE, .run = &entry, .detail = "due 02:00 UTC" };
	assert_text(&a, "jobrun: primecache-daily is late: due 02:00 UTC");
	a = (struct notify_alert){ .kind = NOTIFY_ALERT_MISSED, .run = &entry };
	assert_text(&a, "jobrun: primecache-daily missed a run");
	/* One line, whatever the error holds; long ones are cut on a character. */
	struct notify_run multi = run;
	char longer[4000];
	memset(longer, 'x', sizeof(longer));
	memcpy(longer, "line one\nline two \xc3\xa9", 20);
	longer[sizeof(longer) - 1] = '\0';
	multi.error = longer;
	a = (struct notify_alert){ .kind = NOTIFY_ALERT_FAILED, .run = &multi };
	char *got = notify_alert_text(&a);
	assert_null(strchr(got, '\n'));
	assert_true(strlen(got) <= 1500 + strlen("…"));
	assert_non_null(strstr(got, "line one line two \xc3\xa9"));
	free(got);
}

static char *payload(enum notify_format f, const struct notify_alert *a)
{
	json_t *o = notify_webhook_payload(f, a);
	assert_non_null(o);
	char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	json_decref(o);
	return s;
}

static void test_webhook_payloads(void **state)
{
	(void)state;
	struct notify_alert a = { .kind = NOTIFY_ALERT_FAILED, .run = &run };
	char *s = payload(NOTIFY_FORMAT_SLACK, &a);
	assert_string_equal(s, "{\"text\":\"jobrun: primecache failed (exit 1, run 42): ComicVine said "
			       "&lt;no&gt; &amp; left; 10 processed, 8 succeeded, 2 failed\"}");
	free(s);
	s = payload(NOTIFY_FORMAT_DISCORD, &a);
	assert_string_equal(s, "{\"allowed_mentions\":{\"parse\":[]},\"content\":\"jobrun: primecache "
			       "failed (exit 1, run 42): ComicVine said <no> & left; 10 processed, 8 "
			       "succeeded, 2 failed\"}");
	free(s);
	s = payload(NOTIFY_FORMAT_JSON, &a);
	assert_string_equal(s, "{\"entry\":null,\"error\":\"ComicVine said <no> & left\","
			       "\"event\":\"failed\","
			       "\"exit_code\":1,\"items\":{\"failed\":2,\"processed\":10,\"succeeded\":8},"
			       "\"job\":\"primecache\",\"run_id\":42,\"status\":\"failed\",\"text\":\"jobrun: "
			       "primecache failed (exit 1, run 42): ComicVine said <no> & left; 10 processed, 8 "
			       "succeeded, 2 failed\"}");
	free(s);
}

static enum notify_format format_for(const char *url)
{
	setenv("JOBRUN_WEBHOOK_URL", url, 1);
	struct notify n;
	assert_int_equal(notify_config_from_env(&n), 0);
	enum notify_format f = n.webhook_format;
	notify_release(&n);
	unsetenv("JOBRUN_WEBHOOK_URL");
	return f;
}

static void test_webhook_format_from_host(void **state)
{
	(void)state;
	unsetenv("JOBRUN_WEBHOOK_FORMAT");
	unsetenv("ADMIN_EMAIL");
	assert_int_equal(format_for("https://hooks.slack.com/services/T0/B0/x"), NOTIFY_FORMAT_SLACK);
	assert_int_equal(format_for("https://discord.com/api/webhooks/1/x"), NOTIFY_FORMAT_DISCORD);
	assert_int_equal(format_for("https://discordapp.com/api/webhooks/1/x"), NOTIFY_FORMAT_DISCORD);
	assert_int_equal(format_for("https://ptb.discord.com/api/webhooks/1/x"), NOTIFY_FORMAT_DISCORD);
	assert_int_equal(format_for("https://notdiscord.com/api/webhooks/1/x"), NOTIFY_FORMAT_JSON);
	assert_int_equal(format_for("https://example.org/hook"), NOTIFY_FORMAT_JSON);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_expand_errors),
		cmocka_unit_test(test_parse_events),
		cmocka_unit_test(test_parse_on),
		cmocka_unit_test(test_on_text),
		cmocka_unit_test(test_url_secrets),
		cmocka_unit_test(test_alert_text),
		cmocka_unit_test(test_webhook_payloads),
		cmocka_unit_test(test_webhook_format_from_host),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
