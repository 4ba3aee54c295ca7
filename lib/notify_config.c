/*
 * Notification settings from the environment, checked before any work
 * (lib/notify.h lists them). The URLs are never echoed: they hold keys.
 */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "http_url.h"
#include "log.h"
#include "redact.h"
#include "xalloc.h"

static const char *const event_names[NOTIFY_EVENTS] = { "start", "success", "failure" };

/* Sample values: every placeholder has one, so what a real run expands to
 * differs only in the escaped values. */
static const struct notify_values sample = {
	.job = "job", .entry = "entry", .exit = "0", .status = "succeeded", .run = "1",
	.duration = "1.000", .duration_ms = "1000", .msg = "message",
};

static int read_ping(struct notify *n)
{
	const char *tmpl = config_get("JOBRUN_PING_URL");
	const char *map = config_get("JOBRUN_PING_EVENTS");
	if (!tmpl) {
		if (map)
			return config_error("JOBRUN_PING_EVENTS is set but JOBRUN_PING_URL is not");
		return 0;
	}
	/* Before anything can print it. */
	redact_add(tmpl);
	notify_url_secrets(tmpl, redact_add);
	char why[256];
	if (notify_parse_events(map ? map : "success=success", n->ping_word, why, sizeof(why)))
		return config_error("JOBRUN_PING_EVENTS: %s", why);
	n->ping_url = xstrdup(tmpl);
	char *plain = notify_expand(tmpl, "", &sample, why, sizeof(why));
	if (!plain)
		return config_error("JOBRUN_PING_URL: %s", why);
	free(plain);
	for (int e = 0; e < NOTIFY_EVENTS; e++) {
		if (!n->ping_word[e])
			continue;
		char *url = notify_expand(tmpl, n->ping_word[e], &sample, why, sizeof(why));
		if (!url)
			return config_error("JOBRUN_PING_EVENTS: event %s: %s", event_names[e], why);
		/* A word is URL text too, and may carry a key (doctor shows the words). */
		notify_url_secrets(url, redact_add);
		char what[64];
		snprintf(what, sizeof(what), "JOBRUN_PING_URL (event %s)", event_names[e]);
		int bad = config_check_url(what, url);
		if (!bad && !n->ping_host)
			n->ping_host = http_url_host(url);
		free(url);
		if (bad)
			return -1;
	}
	return 0;
}

static bool host_is(const char *host, const char *domain)
{
	size_t h = strlen(host), d = strlen(domain);
	return h >= d && !strcasecmp(host + h - d, domain) && (h == d || host[h - d - 1] == '.');
}

static const char *const format_names[] = {
	[NOTIFY_FORMAT_SLACK] = "slack", [NOTIFY_FORMAT_DISCORD] = "discord",
	[NOTIFY_FORMAT_JSON] = "json",
};

const char *notify_format_name(enum notify_format f)
{
	return format_names[f];
}

static int read_webhook(struct notify *n)
{
	const char *url = config_get("JOBRUN_WEBHOOK_URL");
	const char *format = config_get("JOBRUN_WEBHOOK_FORMAT");
	if (!url) {
		if (format)
			return config_error("JOBRUN_WEBHOOK_FORMAT is set but JOBRUN_WEBHOOK_URL is not");
		return 0;
	}
	redact_add(url);
	notify_url_secrets(url, redact_add);
	if (config_check_url("JOBRUN_WEBHOOK_URL", url))
		return -1;
	n->webhook_url = xstrdup(url);
	n->webhook_host = http_url_host(url);
	if (format) {
		int f = 0;
		while (f <= NOTIFY_FORMAT_JSON && strcmp(format, format_names[f]))
			f++;
		if (f > NOTIFY_FORMAT_JSON)
			return config_error("JOBRUN_WEBHOOK_FORMAT: expected slack, discord or json, got '%.40s'",
					    format);
		n->webhook_format = (enum notify_format)f;
	} else if (n->webhook_host && host_is(n->webhook_host, "hooks.slack.com")) {
		n->webhook_format = NOTIFY_FORMAT_SLACK;
	} else if (n->webhook_host && (host_is(n->webhook_host, "discord.com") ||
				       host_is(n->webhook_host, "discordapp.com"))) {
		n->webhook_format = NOTIFY_FORMAT_DISCORD;
	} else {
		n->webhook_format = NOTIFY_FORMAT_JSON;
	}
	return 0;
}

int notify_config_from_env(struct notify *n)
{
	memset(n, 0, sizeof(*n));
	n->on = NOTIFY_ON_DEFAULT;
	const char *on = config_get("JOBRUN_NOTIFY_ON");
	char why[256];
	if (on && notify_parse_on(on, &n->on, why, sizeof(why)))
		return config_error("JOBRUN_NOTIFY_ON: %s", why);
	if (config_get_duration("JOBRUN_NOTIFY_TIMEOUT", NOTIFY_DEFAULT_TIMEOUT_S, &n->budget_s))
		goto fail;
	if (n->budget_s < 1 || n->budget_s > 60) {
		config_error("JOBRUN_NOTIFY_TIMEOUT: must be from 1s to 60s");
		goto fail;
	}
	if (read_ping(n) || read_webhook(n))
		goto fail;
	/* Mail alerts go where the jobs' own mail goes, when it goes anywhere. */
	if (config_get("ADMIN_EMAIL") && mail_configured()) {
		if (mail_config_from_env(&n->mail_cfg))
			goto fail;
		n->mail = true;
	}
	return 0;
fail:
	notify_release(n);
	return -1;
}

void notify_release(struct notify *n)
{
	free(n->ping_url);
	free(n->ping_host);
	for (int e = 0; e < NOTIFY_EVENTS; e++)
		free(n->ping_word[e]);
	free(n->webhook_url);
	free(n->webhook_host);
	if (n->mail)
		mail_config_release(&n->mail_cfg);
	memset(n, 0, sizeof(*n));
}

bool notify_alerts_on(const struct notify *n)
{
	return n->webhook_url || n->mail;
}
