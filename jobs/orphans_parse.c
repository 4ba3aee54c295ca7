/*
 * orphans: the pure parts — --types, a listed asset's record, timestamps,
 * the Search API expression. Unit-tested (test/unit/test_orphans.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orphans_internal.h"
#include "xalloc.h"

static const char *const type_names[ORPH_NTYPES] = { "image", "video", "raw" };

const char *orphans_type_name(enum orph_type t)
{
	return type_names[t];
}

int orphans_parse_types(const char *s, bool types[ORPH_NTYPES], char *why, size_t why_len)
{
	memset(types, 0, ORPH_NTYPES * sizeof(bool));
	char *copy = xstrdup(s), *save = NULL;
	int n = 0, ret = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok && !ret; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		size_t len = strlen(tok);
		while (len && tok[len - 1] == ' ')
			tok[--len] = '\0';
		int t = -1;
		for (int i = 0; i < ORPH_NTYPES; i++)
			if (!strcmp(tok, type_names[i]))
				t = i;
		if (t < 0) {
			snprintf(why, why_len, "unknown resource type '%.40s' (image, video, raw)", tok);
			ret = -1;
		} else if (types[t]) {
			snprintf(why, why_len, "'%s' is given twice", tok);
			ret = -1;
		} else {
			types[t] = true;
			n++;
		}
	}
	free(copy);
	if (!ret && !n) {
		snprintf(why, why_len, "no resource type given (image, video, raw)");
		ret = -1;
	}
	return ret;
}

/* Sorted by name, so the same set is always the same key. */
void orphans_types_key(const bool types[ORPH_NTYPES], char *out, size_t len)
{
	static const enum orph_type by_name[] = { ORPH_IMAGE, ORPH_RAW, ORPH_VIDEO };
	size_t k = 0;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(by_name) / sizeof(by_name[0]); i++)
		if (types[by_name[i]] && k < len)
			k += (size_t)snprintf(out + k, len - k, "%s%s", k ? "," : "",
					      type_names[by_name[i]]);
}

static bool digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* YYYY-MM-DDTHH:MM:SS[.f+](Z|±HH:MM): Cloudinary sends both zone forms. */
bool orph_valid_timestamp(const char *s)
{
	if (!s || strlen(s) < 20 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) ||
	    s[7] != '-' || !digits(s + 8, 2) || (s[10] != 'T' && s[10] != ' ') ||
	    !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) || s[16] != ':' ||
	    !digits(s + 17, 2))
		return false;
	int mo = atoi(s + 5), d = atoi(s + 8), h = atoi(s + 11), mi = atoi(s + 14), se = atoi(s + 17);
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return false;
	const char *p = s + 19;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (!strcmp(p, "Z"))
		return true;
	return (p[0] == '+' || p[0] == '-') && digits(p + 1, 2) && p[3] == ':' && digits(p + 4, 2) &&
	       !p[6] && atoi(p + 1) <= 14 && atoi(p + 4) <= 59;
}

static const char *string_field(json_t *record, const char *key)
{
	return json_string_value(json_object_get(record, key));
}

static const char *timestamp_field(json_t *record, const char *key)
{
	const char *v = string_field(record, key);
	return orph_valid_timestamp(v) ? v : NULL;
}

int orph_asset_from_json(json_t *record, struct orph_asset *a, char *why, size_t why_len)
{
	memset(a, 0, sizeof(*a));
	a->bytes = -1;
	if (!json_is_object(record)) {
		snprintf(why, why_len, "a resource that is not an object");
		return -1;
	}
	a->public_id = string_field(record, "public_id");
	if (!a->public_id || !*a->public_id) {
		snprintf(why, why_len, "a resource without a public_id");
		return -1;
	}
	a->resource_type = string_field(record, "resource_type");
	bool known = false;
	for (int i = 0; a->resource_type && i < ORPH_NTYPES; i++)
		known = known || !strcmp(a->resource_type, type_names[i]);
	if (!known) {
		snprintf(why, why_len, "a resource with an unknown resource_type");
		return -1;
	}
	a->format = string_field(record, "format");
	a->secure_url = string_field(record, "secure_url");
	a->created_at = timestamp_field(record, "created_at");
	a->uploaded_at = timestamp_field(record, "uploaded_at");
	json_t *bytes = json_object_get(record, "bytes");
	if (json_is_integer(bytes) && json_integer_value(bytes) >= 0)
		a->bytes = (long long)json_integer_value(bytes);
	return 0;
}

void orph_expression(struct buf *out, const bool types[ORPH_NTYPES], const char *from,
		     const char *to)
{
	int n = 0;
	for (int i = 0; i < ORPH_NTYPES; i++)
		n += types[i];
	buf_adds(out, "type:upload");
	if (n < ORPH_NTYPES) {
		buf_adds(out, n > 1 ? " AND (" : " AND ");
		for (int i = 0, k = 0; i < ORPH_NTYPES; i++)
			if (types[i])
				buf_addf(out, "%sresource_type:%s", k++ ? " OR " : "", type_names[i]);
		if (n > 1)
			buf_addch(out, ')');
	}
	if (from)
		buf_addf(out, " AND uploaded_at>=\"%s\"", from);
	buf_addf(out, " AND uploaded_at<=\"%s\"", to);
}
