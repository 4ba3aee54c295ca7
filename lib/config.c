#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "redact.h"
#include "xalloc.h"

int parse_duration(const char *s, double *seconds)
{
	if (!s || !*s)
		return -1;
	double total = 0;
	const char *p = s;
	/* Compound forms like "1h30m" are accepted; each part needs a unit
	 * except a lone bare number, which means seconds. */
	while (*p) {
		char *end;
		errno = 0;
		double v = strtod(p, &end);
		if (end == p || errno || !isfinite(v) || v < 0)
			return -1;
		double unit;
		if (!strncmp(end, "ms", 2)) {
			unit = 0.001;
			end += 2;
		} else if (*end == 's') {
			unit = 1, end++;
		} else if (*end == 'm') {
			unit = 60, end++;
		} else if (*end == 'h') {
			unit = 3600, end++;
		} else if (*end == 'd') {
			unit = 86400, end++;
		} else if (*end == '\0' && p == s) {
			unit = 1;
		} else {
			return -1;
		}
		total += v * unit;
		p = end;
	}
	if (total > 100.0 * 365 * 86400)
		return -1;
	*seconds = total;
	return 0;
}

/* Round once, to whole milliseconds, so no place ever carries into a 60. */
void format_duration(double seconds, char *out, unsigned outlen)
{
	long long ms = seconds > 0 ? llround(seconds * 1000) : 0;
	long long d = ms / 86400000, h = ms / 3600000 % 24, m = ms / 60000 % 60;
	long long s = ms / 1000 % 60, frac = ms % 1000;
	char buf[64];
	int n = 0;
	if (d)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%lldd", d);
	if (h)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%lldh", h);
	if (m)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%lldm", m);
	if (frac) {
		char f[8];
		snprintf(f, sizeof(f), "%03lld", frac);
		for (int i = 2; i > 0 && f[i] == '0'; i--)
			f[i] = '\0';
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%lld.%ss", s, f);
	} else if (s || !n) {
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%llds", s);
	}
	snprintf(out, outlen, "%s", buf);
}

const char *config_get(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

int config_require(const char *name, const char **out)
{
	*out = config_get(name);
	if (!*out)
		return config_error("%s is not set", name);
	return 0;
}

int config_require_secret(const char *name, const char **out)
{
	if (config_require(name, out))
		return -1;
	redact_add(*out);
	return 0;
}

int config_get_duration(const char *name, double def, double *out)
{
	const char *v = config_get(name);
	if (!v) {
		*out = def;
		return 0;
	}
	if (parse_duration(v, out))
		return config_error("%s: invalid duration '%s' (use e.g. 90s, 9m, 2h, 30d)", name, v);
	return 0;
}

int config_get_long(const char *name, long def, long min, long max, long *out)
{
	const char *v = config_get(name);
	if (!v) {
		*out = def;
		return 0;
	}
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < min || n > max)
		return config_error("%s: expected a whole number from %ld to %ld, got '%s'", name, min,
				    max, v);
	*out = n;
	return 0;
}

int config_get_header_value(const char *name, const char **out)
{
	const char *v = config_get(name);
	*out = NULL;
	for (size_t i = 0; v && v[i]; i++) {
		unsigned char ch = (unsigned char)v[i];
		/* HTAB is legal in a field value, but a tab in a product name is
		 * as much a mistake as any other control character. */
		if (ch < 0x20 || ch == 0x7f)
			return config_error("%s: contains a control character (byte 0x%02x at position %zu); "
					    "a header value must be printable text", name, ch, i + 1);
	}
	*out = v;
	return 0;
}

/* Checks scheme and host with libcurl's own parser, so what we accept is
 * exactly what the transfers will use. Never prints the URL: it may carry
 * credentials. */
static int check_url(const char *what, const char *url, char **normalized)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *full = NULL;
	int ret = -1;
	CURLUcode rc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (rc != CURLUE_OK) {
		config_error("%s: not a valid URL (%s)", what, curl_url_strerror(rc));
		goto out;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") && strcmp(scheme, "https"))) {
		config_error("%s: URL scheme must be http or https", what);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
		config_error("%s: URL has no host", what);
		goto out;
	}
	if (normalized) {
		if (curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK) {
			config_error("%s: URL cannot be normalized", what);
			goto out;
		}
		size_t len = strlen(full);
		while (len > 0 && full[len - 1] == '/')
			full[--len] = '\0';
		*normalized = xstrdup(full);
	}
	ret = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(full);
	curl_url_cleanup(u);
	return ret;
}

int config_check_url(const char *what, const char *url)
{
	return check_url(what, url, NULL);
}

int config_get_url(const char *name, const char *def, char **out)
{
	const char *v = config_get(name);
	if (!v)
		v = def;
	if (!v)
		return config_error("%s is not set", name);
	return check_url(name, v, out);
}
