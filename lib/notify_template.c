/*
 * The ping URL template, the event map and JOBRUN_NOTIFY_ON: pure parsing,
 * no environment, no network (test/unit/test_notify.c).
 */
#include "notify.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "http_url.h"
#include "xalloc.h"

static const char *const event_names[NOTIFY_EVENTS] = {
	[NOTIFY_START] = "start", [NOTIFY_SUCCESS] = "success", [NOTIFY_FAILURE] = "failure",
};

const char *notify_event_name(enum notify_event e)
{
	return event_names[e];
}

/* The value of placeholder name[0..len), or -1 when there is none by that
 * name; {event} is the caller's. */
static int lookup(const char *name, size_t len, const struct notify_values *v, const char **out)
{
	static const struct {
		const char *name;
		size_t off;
	} fields[] = {
		{ "job", offsetof(struct notify_values, job) },
		{ "entry", offsetof(struct notify_values, entry) },
		{ "exit", offsetof(struct notify_values, exit) },
		{ "status", offsetof(struct notify_values, status) },
		{ "run", offsetof(struct notify_values, run) },
		{ "duration", offsetof(struct notify_values, duration) },
		{ "duration_ms", offsetof(struct notify_values, duration_ms) },
		{ "msg", offsetof(struct notify_values, msg) },
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (strlen(fields[i].name) == len && !strncmp(fields[i].name, name, len)) {
			*out = *(const char *const *)((const char *)v + fields[i].off);
			return 0;
		}
	}
	return -1;
}

/* Append tmpl with its placeholders expanded; word is NULL inside a word,
 * where {event} is not allowed. */
static int expand_into(struct buf *out, const char *tmpl, const char *word,
		       const struct notify_values *v, char *why, size_t why_len)
{
	for (const char *p = tmpl; *p; p++) {
		if (*p == '}') {
			snprintf(why, why_len, "'}' at position %zu has no '{'", (size_t)(p - tmpl) + 1);
			return -1;
		}
		if (*p != '{') {
			buf_addch(out, *p);
			continue;
		}
		const char *name = p + 1;
		size_t len = strcspn(name, "{}");
		if (name[len] != '}') {
			snprintf(why, why_len, "'{' at position %zu is not closed", (size_t)(p - tmpl) + 1);
			return -1;
		}
		const char *value;
		if (len == 5 && !strncmp(name, "event", 5)) {
			if (!word) {
				snprintf(why, why_len, "an event word cannot hold {event}");
				return -1;
			}
			if (expand_into(out, word, NULL, v, why, why_len))
				return -1;
		} else if (!lookup(name, len, v, &value)) {
			char *esc = http_escape(value ? value : "");
			buf_adds(out, esc ? esc : "");
			free(esc);
		} else {
			snprintf(why, why_len,
				 "unknown placeholder {%.*s} (known: {job} {entry} {event} {exit} "
				 "{status} {run} {duration} {duration_ms} {msg})",
				 (int)(len > 40 ? 40 : len), name);
			return -1;
		}
		p = name + len;
	}
	return 0;
}

char *notify_expand(const char *tmpl, const char *word, const struct notify_values *v, char *why,
		    size_t why_len)
{
	struct buf out = BUF_INIT;
	if (expand_into(&out, tmpl, word ? word : "", v, why, why_len)) {
		buf_release(&out);
		return NULL;
	}
	return buf_detach(&out);
}

static char *trimmed(const char *s, size_t len)
{
	while (len && isspace((unsigned char)*s))
		s++, len--;
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	return xstrndup(s, len);
}

int notify_parse_events(const char *s, char *words[NOTIFY_EVENTS], char *why, size_t why_len)
{
	for (int e = 0; e < NOTIFY_EVENTS; e++)
		words[e] = NULL;
	const char *p = s;
	for (int item = 1;; item++) {
		size_t len = strcspn(p, ",");
		const char *eq = memchr(p, '=', len);
		char *name = trimmed(p, eq ? (size_t)(eq - p) : len);
		int e = 0;
		while (e < NOTIFY_EVENTS && strcmp(name, event_names[e]))
			e++;
		if (!eq || e == NOTIFY_EVENTS || words[e]) {
			if (!eq)
				snprintf(why, why_len, "item %d: expected event=word (events: start, success, failure)",
					 item);
			else if (e == NOTIFY_EVENTS)
				snprintf(why, why_len, "item %d: unknown event '%.40s' (events: start, success, failure)",
					 item, name);
			else
				snprintf(why, why_len, "item %d: event '%s' is listed twice", item, name);
			free(name);
			goto fail;
		}
		free(name);
		words[e] = trimmed(eq + 1, len - (size_t)(eq + 1 - p));
		if (!p[len])
			return 0;
		p += len + 1;
	}
fail:
	for (int e = 0; e < NOTIFY_EVENTS; e++) {
		free(words[e]);
		words[e] = NULL;
	}
	return -1;
}

/* The single alerts first: notify_on_text names bits by them. */
static const struct {
	const char *word;
	unsigned bits;
} on_words[] = {
	{ "failures", NOTIFY_ON_FAILURES }, { "late", NOTIFY_ON_LATE },
	{ "missed", NOTIFY_ON_MISSED },     { "recovery", NOTIFY_ON_RECOVERY },
	{ "all", NOTIFY_ON_DEFAULT },       { "none", 0 },
};
#define N_ON_SINGLE 4

int notify_parse_on(const char *s, unsigned *out, char *why, size_t why_len)
{
	unsigned bits = 0;
	const char *p = s;
	for (;;) {
		size_t len = strcspn(p, ",");
		char *w = trimmed(p, len);
		size_t i = 0;
		while (i < sizeof(on_words) / sizeof(on_words[0]) && strcmp(w, on_words[i].word))
			i++;
		if (i == sizeof(on_words) / sizeof(on_words[0])) {
			snprintf(why, why_len,
				 "unknown word '%.40s' (use failures, late, missed, recovery, all or none)", w);
			free(w);
			return -1;
		}
		free(w);
		bits |= on_words[i].bits;
		if (!p[len])
			break;
		p += len + 1;
	}
	*out = bits;
	return 0;
}

void notify_on_text(unsigned on, char *out, size_t len)
{
	struct buf b = BUF_INIT;
	for (int i = 0; i < N_ON_SINGLE; i++)
		if (on & on_words[i].bits)
			buf_addf(&b, "%s%s", b.len ? "," : "", on_words[i].word);
	snprintf(out, len, "%s", b.len ? buf_str(&b) : "none");
	buf_release(&b);
}

/* A key, not a word: long, or long enough and holding a digit. */
static bool looks_secret(const char *s, size_t len)
{
	if (len >= 16)
		return true;
	if (len < 8)
		return false;
	for (size_t i = 0; i < len; i++)
		if (isdigit((unsigned char)s[i]))
			return true;
	return false;
}

void notify_url_secrets(const char *url, void (*add)(const char *secret))
{
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	/* The host names the service; it is what logs show. */
	p += strcspn(p, "/?#");
	while (*p) {
		/* Pieces between separators; a placeholder splits a piece too. */
		size_t len = strcspn(p, "/?&=#{");
		if (looks_secret(p, len)) {
			char *s = xstrndup(p, len);
			add(s);
			free(s);
		}
		p += len;
		if (*p == '{')
			p += strcspn(p, "}");
		if (*p)
			p++;
	}
}
