#include "redact.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "xalloc.h"

/* A handful of secrets per process: a flat array is plenty. */
static char **secrets;
static size_t n_secrets;

void redact_add(const char *secret)
{
	if (!secret || strlen(secret) < 4)
		return;
	for (size_t i = 0; i < n_secrets; i++)
		if (!strcmp(secrets[i], secret))
			return;
	secrets = xrealloc(secrets, (n_secrets + 1) * sizeof(*secrets));
	secrets[n_secrets++] = xstrdup(secret);
}

void redact_clear(void)
{
	for (size_t i = 0; i < n_secrets; i++)
		free(secrets[i]);
	free(secrets);
	secrets = NULL;
	n_secrets = 0;
}

int redact_is_secret_name(const char *name, size_t len)
{
	static const char *const names[] = {
		"api_key", "api-key", "apikey", "key", "token", "access_token", "auth_token",
		"password", "passwd", "secret", "api_secret", "client_secret", "signature",
		"authorization", "x-api-key",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && !strncasecmp(names[i], name, len))
			return 1;
	return 0;
}

/* Replace every registered secret in s. */
static char *redact_registered(const char *s)
{
	struct buf out = BUF_INIT;
	const char *p = s;
	while (*p) {
		size_t best = 0;
		for (size_t i = 0; i < n_secrets; i++) {
			size_t len = strlen(secrets[i]);
			if (len > best && !strncmp(p, secrets[i], len))
				best = len;
		}
		if (best) {
			buf_adds(&out, REDACTED);
			p += best;
		} else {
			buf_addch(&out, *p++);
		}
	}
	return buf_detach(&out);
}

static int ends_value(char c)
{
	return c == '\0' || c == '&' || c == '#' || c == '"' || c == '\'' || isspace((unsigned char)c);
}

/* name=value after '?' or '&' with a secret name: drop the value. */
static void redact_query_values(struct buf *out, const char *s)
{
	const char *p = s;
	while (*p) {
		buf_addch(out, *p);
		if (*p != '?' && *p != '&') {
			p++;
			continue;
		}
		p++;
		const char *name = p;
		while (*p && *p != '=' && !ends_value(*p))
			p++;
		buf_add(out, name, (size_t)(p - name));
		if (*p != '=')
			continue;
		buf_addch(out, *p++);
		const char *value = p;
		while (!ends_value(*p))
			p++;
		if (redact_is_secret_name(name, (size_t)(value - 1 - name)) && p > value)
			buf_adds(out, REDACTED);
		else
			buf_add(out, value, (size_t)(p - value));
	}
}

/* scheme://user:password@host → scheme://user:[REDACTED]@host */
static void redact_userinfo(struct buf *out, const char *s)
{
	const char *p = s;
	for (;;) {
		const char *scheme_end = strstr(p, "://");
		if (!scheme_end) {
			buf_adds(out, p);
			return;
		}
		const char *auth = scheme_end + 3;
		size_t span = strcspn(auth, "/?# \t\n\"'");
		const char *at = memchr(auth, '@', span);
		const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon && at > colon + 1) {
			buf_add(out, p, (size_t)(colon + 1 - p));
			buf_adds(out, REDACTED);
			p = at;
		} else {
			buf_add(out, p, (size_t)(auth - p));
			p = auth;
		}
	}
}

char *redact_string(const char *s)
{
	if (!s)
		return xstrdup("");
	char *step1 = redact_registered(s);
	struct buf step2 = BUF_INIT;
	redact_query_values(&step2, step1);
	free(step1);
	struct buf out = BUF_INIT;
	redact_userinfo(&out, buf_str(&step2));
	buf_release(&step2);
	return buf_detach(&out);
}
