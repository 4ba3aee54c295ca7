/*
 * cleanup's retention per plan ("free=5d,premium=30d,*=10d"): pure parsing
 * and lookup, unit-tested.
 */
#include "cleanup.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "xalloc.h"

static bool plan_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

static int __attribute__((format(printf, 3, 4))) bad(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return -1;
}

static bool listed(const struct cleanup_retention *r, const char *plan)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->plans[i].plan, plan))
			return true;
	return false;
}

/* One "plan=duration" entry, trimmed of spaces. */
static int parse_entry(char *tok, struct cleanup_retention *r, char *why, size_t why_len)
{
	while (*tok == ' ')
		tok++;
	size_t len = strlen(tok);
	while (len && tok[len - 1] == ' ')
		tok[--len] = '\0';
	char *eq = strchr(tok, '=');
	if (!eq)
		return bad(why, why_len, "'%s' is not plan=duration", tok);
	*eq = '\0';
	const char *plan = tok, *dur = eq + 1;
	double s;
	if (!*plan)
		return bad(why, why_len, "an entry has no plan before '=%s'", dur);
	if (parse_duration(dur, &s) || s <= 0)
		return bad(why, why_len, "plan '%s' has no valid duration (like 5d, 36h)", plan);
	if (!strcmp(plan, "*")) {
		if (r->has_default)
			return bad(why, why_len, "'%s' is given twice", plan);
		r->has_default = true;
		r->default_s = s;
		return 0;
	}
	for (const char *p = plan; *p; p++)
		if (!plan_char(*p))
			return bad(why, why_len,
				   "plan '%s' has characters other than letters, digits, '-', '_', '.'",
				   plan);
	if (strlen(plan) >= sizeof(r->plans[0].plan))
		return bad(why, why_len, "plan '%.40s…' is too long", plan);
	if (listed(r, plan))
		return bad(why, why_len, "plan '%s' is given twice", plan);
	if (r->n == CLEANUP_MAX_PLANS)
		return bad(why, why_len, "more plans than %d", CLEANUP_MAX_PLANS);
	snprintf(r->plans[r->n].plan, sizeof(r->plans[0].plan), "%s", plan);
	r->plans[r->n++].seconds = s;
	return 0;
}

int cleanup_retention_parse(const char *text, struct cleanup_retention *out, char *why,
			    size_t why_len)
{
	memset(out, 0, sizeof(*out));
	char *copy = xstrdup(text), *save = NULL;
	int ret = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok && !ret; tok = strtok_r(NULL, ",", &save))
		ret = parse_entry(tok, out, why, why_len);
	free(copy);
	if (!ret && !out->n && !out->has_default)
		ret = bad(why, why_len, "no plan is given");
	if (ret)
		memset(out, 0, sizeof(*out));
	return ret;
}

double cleanup_retention_of(const struct cleanup_retention *r, const char *plan)
{
	for (size_t i = 0; plan && i < r->n; i++)
		if (!strcmp(r->plans[i].plan, plan))
			return r->plans[i].seconds;
	return r->has_default ? r->default_s : -1;
}

void cleanup_retention_format(const struct cleanup_retention *r, char *out, size_t len)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i <= r->n; i++) {
		if (i == r->n && !r->has_default)
			break;
		char d[32];
		format_duration(i < r->n ? r->plans[i].seconds : r->default_s, d, sizeof(d));
		int k = snprintf(out + used, len - used, "%s%s=%s", used ? "," : "",
				 i < r->n ? r->plans[i].plan : "*", d);
		if (k < 0 || (size_t)k >= len - used)
			return;
		used += (size_t)k;
	}
}
