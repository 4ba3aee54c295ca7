/*
 * Cloudinary on the provider pattern: its descriptor (one hourly bucket per
 * account, the X-FeatureRateLimit convention, HTML = bad credentials, its
 * error bodies), its configuration from CLOUDINARY_URL, and the batched
 * delete.
 */
#include "cloudinary.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "http.h"
#include "log.h"
#include "redact.h"
#include "task.h"
#include "xalloc.h"

#define PROVIDER "cloudinary"
#define URL_VAR "CLOUDINARY_URL"
#define URL_FORM "cloudinary://<api_key>:<api_secret>@<cloud_name>"

/* ------------------------------------------------------------ configuration */

static bool name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '_';
}

static bool all_name_chars(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!name_char(s[i]))
			return false;
	return true;
}

static int parse_fail(char *why, size_t why_len, const char *msg)
{
	snprintf(why, why_len, "%s", msg);
	return -1;
}

int cloudinary_parse_url(const char *url, char **key, char **secret, char **cloud, char *why,
			 size_t why_len)
{
	static const char scheme[] = "cloudinary://";
	*key = *secret = *cloud = NULL;
	if (strncmp(url, scheme, sizeof(scheme) - 1))
		return parse_fail(why, why_len, "does not start with 'cloudinary://'");
	const char *rest = url + sizeof(scheme) - 1;
	size_t len = strcspn(rest, "?");
	/* The last '@' ends the credentials: a cloud name never has one. */
	const char *at = NULL;
	for (const char *p = rest; p < rest + len; p++)
		if (*p == '@')
			at = p;
	if (!at)
		return parse_fail(why, why_len, "has no '@<cloud_name>' after the credentials");
	const char *colon = memchr(rest, ':', (size_t)(at - rest));
	if (!colon)
		return parse_fail(why, why_len, "has no ':<api_secret>' after the API key");
	size_t key_len = (size_t)(colon - rest), secret_len = (size_t)(at - colon - 1);
	size_t cloud_len = (size_t)(rest + len - at - 1);
	if (!key_len)
		return parse_fail(why, why_len, "has an empty API key");
	if (!all_name_chars(rest, key_len))
		return parse_fail(why, why_len,
				  "has an API key with characters other than letters, digits, '-', '_'");
	if (!secret_len)
		return parse_fail(why, why_len, "has an empty API secret");
	for (const char *p = colon + 1; p < at; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return parse_fail(why, why_len,
					  "has a space or control character in the API secret");
	if (!cloud_len)
		return parse_fail(why, why_len, "has an empty cloud name after '@'");
	if (!all_name_chars(at + 1, cloud_len))
		return parse_fail(why, why_len,
				  "has a cloud name with characters other than letters, digits, '-', '_'");
	*key = xstrndup(rest, key_len);
	*secret = xstrndup(colon + 1, secret_len);
	*cloud = xstrndup(at + 1, cloud_len);
	return 0;
}

static int read_url(struct cloudinary_config *cfg, bool need)
{
	const char *v = config_get(URL_VAR);
	if (!v) {
		if (!need)
			return 0;
		return config_error("%s is not set: expected %s", URL_VAR, URL_FORM);
	}
	/* Whatever shape it has, the value carries the secret. */
	redact_add(v);
	char *secret, why[160];
	if (cloudinary_parse_url(v, &cfg->api_key, &secret, &cfg->cloud, why, sizeof(why)))
		return config_error("%s %s: expected %s", URL_VAR, why, URL_FORM);
	redact_add(secret);
	cfg->credentials = xasprintf("%s:%s", cfg->api_key, secret);
	redact_add(cfg->credentials);
	free(secret);
	return 0;
}

int cloudinary_config_from_env(struct cloudinary_config *cfg, bool need_credentials)
{
	memset(cfg, 0, sizeof(*cfg));
	if (read_url(cfg, need_credentials) ||
	    config_get_url("CLOUDINARY_API_URL", CLOUDINARY_DEFAULT_URL, &cfg->base_url) ||
	    config_get_long("CLOUDINARY_HOURLY_LIMIT", CLOUDINARY_DEFAULT_HOURLY_LIMIT, 1, 1000000,
			    &cfg->hourly_limit)) {
		cloudinary_config_release(cfg);
		return -1;
	}
	return 0;
}

void cloudinary_config_release(struct cloudinary_config *cfg)
{
	free(cfg->base_url);
	free(cfg->cloud);
	free(cfg->api_key);
	free(cfg->credentials);
	memset(cfg, 0, sizeof(*cfg));
}

/* ------------------------------------------------------------- descriptor */

static int cld_map(struct provider *p, const char *bucket, const struct rl_bucket **out)
{
	struct cloudinary *c = p->client;
	if (!bucket)
		return 0;
	*out = &c->bucket;
	return 1;
}

static bool looks_like_html(const struct http_response *resp)
{
	if (resp->content_type && strstr(resp->content_type, "html"))
		return true;
	const char *b = resp->body ? resp->body : "";
	while (*b == ' ' || *b == '\n' || *b == '\r' || *b == '\t')
		b++;
	return *b == '<';
}

static long header_long(const struct http_response *resp, const char *name)
{
	const char *v = http_response_header(resp, name);
	char *end;
	long n = v ? strtol(v, &end, 10) : -1;
	return v && end != v && n >= 0 ? n : -1;
}

/* Every answer's rate headers, kept for reports ("API calls used: X/L"). */
static void note_usage(struct cloudinary *c, const struct http_response *resp)
{
	long limit = header_long(resp, cloudinary_desc.rate.limit);
	long remaining = header_long(resp, cloudinary_desc.rate.remaining);
	const char *reset = http_response_header(resp, cloudinary_desc.rate.reset);
	if (limit < 0 && remaining < 0)
		return;
	c->usage.known = true;
	c->usage.limit = limit;
	c->usage.remaining = remaining;
	c->usage.reset_at = reset ? http_parse_date(reset) : -1;
}

/* An HTML page is Cloudinary's edge refusing the credentials; JSON errors
 * are read by interpret. */
static enum http_class cld_classify(struct provider *p, const struct http_request *req,
				    struct http_response *resp, enum http_class dflt)
{
	(void)req;
	struct cloudinary *c = p->client;
	note_usage(c, resp);
	if (resp->status == 420 || resp->status == 429) {
		c->rate_limited++;
		resp->signal = CLD_SIG_RATE_LIMITED;
		return HTTP_CLASS_RATE_LIMITED;
	}
	if (looks_like_html(resp)) {
		resp->signal = CLD_SIG_HTML;
		return HTTP_CLASS_FATAL;
	}
	return dflt;
}

static void cld_on_send(struct provider *p, const char *bucket)
{
	(void)bucket;
	((struct cloudinary *)p->client)->calls++;
}

/* {"error":{"message":"…"}}, Cloudinary's error shape. */
static const char *error_message(json_t *json)
{
	json_t *e = json_object_get(json, "error");
	const char *m = json_string_value(json_object_get(e, "message"));
	return m ? m : json_string_value(e);
}

static enum provider_result cld_interpret(struct provider *p, const struct provider_call *call,
					  const struct http_response *r, const char *text,
					  size_t len, json_t **json, char *err, size_t errlen)
{
	(void)p;
	(void)call;
	if (r->signal == CLD_SIG_HTML) {
		snprintf(err, errlen,
			 "Cloudinary answered with an HTML page (HTTP %ld), which means it refused "
			 "the credentials: check %s", r->status, URL_VAR);
		return PROVIDER_BAD_CREDENTIALS;
	}
	*json = json_loadb(text, len, 0, NULL);
	const char *msg = error_message(*json);
	if (r->status == 401 || r->status == 403 || r->class == HTTP_CLASS_FATAL) {
		snprintf(err, errlen, "Cloudinary rejected the credentials (HTTP %ld: %s): check %s",
			 r->status, msg ? msg : "no message", URL_VAR);
		return PROVIDER_BAD_CREDENTIALS;
	}
	if (r->status < 200 || r->status > 299 || !json_is_object(*json)) {
		if (msg)
			snprintf(err, errlen, "Cloudinary HTTP %ld: %s", r->status, msg);
		else if (*json)
			snprintf(err, errlen, "Cloudinary HTTP %ld: not a JSON object", r->status);
		else {
			json_t *none;
			http_response_json(r, &none, err, errlen); /* its words for what came */
			json_decref(none);
		}
		json_decref(*json);
		*json = NULL;
		return r->status == 404 ? PROVIDER_NOT_FOUND : PROVIDER_FAILED;
	}
	return PROVIDER_OK;
}

/* Cloudinary's Admin API as a provider. Its facts: DESIGN.md §5. */
const struct provider_desc cloudinary_desc = {
	.name = PROVIDER,
	.url_var = "CLOUDINARY_API_URL",
	.default_url = CLOUDINARY_DEFAULT_URL,
	.secret_var = URL_VAR,
	.auth = PROVIDER_AUTH_BASIC,
	.rate = { .limit = "X-FeatureRateLimit-Limit",
		  .remaining = "X-FeatureRateLimit-Remaining",
		  .reset = "X-FeatureRateLimit-Reset",
		  .reset_format = PROVIDER_RESET_HTTP_DATE,
		  .adopt_limit = true /* plans differ: 500 free, 2000 paid */ },
	/* A 420 without a Reset: the hour is spent. */
	.unknown_wait_is_window = true,
	.map = cld_map,
	.classify = cld_classify,
	.interpret = cld_interpret,
	.on_send = cld_on_send,
};

/* ------------------------------------------------------------- lifecycle */

void cloudinary_init(struct cloudinary *c, struct cloudinary_config *cfg, long long budget)
{
	memset(c, 0, sizeof(*c));
	c->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	c->usage = (struct cloudinary_usage){ false, -1, -1, -1 };
	/* One window per account: the cloud name, never the key. */
	c->bucket = (struct rl_bucket){ .provider = PROVIDER,
					.name = c->cfg.cloud ? c->cfg.cloud : "-",
					.limit = c->cfg.hourly_limit, .period_s = 3600 };
	provider_init(&c->prov, &cloudinary_desc, c->cfg.base_url, c->cfg.credentials, c,
		      budget > 0 ? budget : -1);
}

int cloudinary_open(struct cloudinary *c, struct task *t, struct cloudinary_config *cfg,
		    long long budget, double max_wait_s)
{
	cloudinary_init(c, cfg, budget);
	struct db *rl_db = task_rl_db(t);
	if (!rl_db)
		return -1;
	limiter_init(&c->lim, rl_db, provider_map_buckets, &c->prov, max_wait_s);
	struct http_hooks hooks = provider_hooks(&c->prov, &c->lim);
	c->prov.http = task_http_client(t, &hooks);
	return c->prov.http ? 0 : -1;
}

void cloudinary_close(struct cloudinary *c)
{
	/* The client outlives us (the task owns it): its hooks point here. */
	if (c->prov.http)
		http_client_set_hooks(c->prov.http, NULL);
	c->prov.http = NULL;
	provider_release(&c->prov);
	cloudinary_config_release(&c->cfg);
}

const char *const *cloudinary_path(const struct cloudinary *c, const char *const *tail,
				   const char **out, size_t cap)
{
	size_t k = 0;
	if (cap < 3)
		return NULL;
	out[k++] = "v1_1";
	out[k++] = c->cfg.cloud ? c->cfg.cloud : "";
	for (; tail && *tail; tail++) {
		if (k + 1 >= cap)
			return NULL;
		out[k++] = *tail;
	}
	out[k] = NULL;
	return out;
}

/* ----------------------------------------------------------------- delete */

const char *cloudinary_deleted_name(enum cloudinary_deleted d)
{
	switch (d) {
	case CLD_DELETED: return "deleted";
	case CLD_NOT_FOUND: return "not_found";
	case CLD_FAILED: return "failed";
	}
	return "?";
}

int cloudinary_read_deleted(json_t *answer, const char *const *ids, size_t n,
			    enum cloudinary_deleted *out)
{
	json_t *map = json_object_get(answer, "deleted");
	if (!json_is_object(map))
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *v = json_string_value(json_object_get(map, ids[i]));
		out[i] = !v			      ? CLD_FAILED
			 : !strcmp(v, "deleted")   ? CLD_DELETED
			 : !strcmp(v, "not_found") ? CLD_NOT_FOUND
						   : CLD_FAILED;
	}
	return 0;
}

enum provider_result cloudinary_delete(struct cloudinary *c, const char *resource_type,
				       const char *delivery_type, const char *const *ids, size_t n,
				       enum cloudinary_deleted *out, char *err, size_t errlen)
{
	if (n == 0 || n > CLOUDINARY_DELETE_MAX) {
		snprintf(err, errlen, "a delete takes 1 to %d public ids, not %zu",
			 CLOUDINARY_DELETE_MAX, n);
		return PROVIDER_FAILED;
	}
	const char *params[2 * CLOUDINARY_DELETE_MAX + 1];
	for (size_t i = 0; i < n; i++) {
		params[2 * i] = "public_ids[]";
		params[2 * i + 1] = ids[i];
	}
	params[2 * n] = NULL;
	if (!delivery_type)
		delivery_type = "upload";
	const char *tail[] = { "resources", resource_type, delivery_type, NULL }, *seg[8];
	char label[112];
	snprintf(label, sizeof(label), "DELETE /resources/%.40s/%.40s", resource_type, delivery_type);
	struct provider_call call = { .method = "DELETE",
				      .segments = cloudinary_path(c, tail, seg, 8),
				      .params = params, .bucket = CLOUDINARY_BUCKET, .label = label };
	struct provider_reply r;
	enum provider_result res = provider_request(&c->prov, &call, &r);
	snprintf(err, errlen, "%s", r.error);
	if (res == PROVIDER_OK && cloudinary_read_deleted(r.json, ids, n, out)) {
		snprintf(err, errlen, "%s: malformed answer: no 'deleted' object", label);
		res = PROVIDER_FAILED;
	}
	provider_reply_release(&r);
	return res;
}

/* ------------------------------------------------------------------ usage */

static long usage_used(const struct cloudinary_usage *u)
{
	return u->limit >= 0 && u->remaining >= 0 ? u->limit - u->remaining : -1;
}

json_t *cloudinary_usage_json(const struct cloudinary *c)
{
	const struct cloudinary_usage *u = &c->usage;
	long used = usage_used(u);
	json_t *o = json_object();
	json_object_set_new(o, "calls", json_integer(c->calls));
	json_object_set_new(o, "used", used >= 0 ? json_integer(used) : json_null());
	json_object_set_new(o, "limit", u->limit >= 0 ? json_integer(u->limit) : json_null());
	json_object_set_new(o, "remaining",
			    u->remaining >= 0 ? json_integer(u->remaining) : json_null());
	json_object_set_new(o, "percent", used >= 0 && u->limit > 0
						  ? json_real(100.0 * (double)used / (double)u->limit)
						  : json_null());
	if (u->reset_at >= 0) {
		char iso[32];
		time_t at = (time_t)u->reset_at;
		struct tm tm;
		gmtime_r(&at, &tm);
		strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_object_set_new(o, "reset", json_string(iso));
	} else {
		json_object_set_new(o, "reset", json_null());
	}
	return o;
}

double cloudinary_usage_text(const struct cloudinary *c, char *out, size_t len)
{
	long used = usage_used(&c->usage);
	if (used < 0 || c->usage.limit <= 0) {
		snprintf(out, len, "API calls used: unknown");
		return -1;
	}
	double pct = 100.0 * (double)used / (double)c->usage.limit;
	snprintf(out, len, "API calls used: %ld/%ld (%.1f %%)", used, c->usage.limit, pct);
	return pct;
}

/* ------------------------------------------------------------------- ping */

/* One cheap authenticated call outside the limiter (doctor runs it by hand,
 * once): the first image. */
int cloudinary_ping(char *detail, size_t len)
{
	struct cloudinary_config cfg;
	struct http_config hc;
	if (cloudinary_config_from_env(&cfg, true) || http_config_from_env(&hc)) {
		cloudinary_config_release(&cfg);
		snprintf(detail, len, "%s", error_last() ? error_last() : "configuration error");
		return -1;
	}
	hc.max_attempts = 1;
	struct cloudinary c;
	cloudinary_init(&c, &cfg, 1);
	struct http_hooks hooks = provider_hooks(&c.prov, NULL);
	c.prov.http = http_client_new(&hc, &hooks);
	const char *tail[] = { "resources", "image", "upload", NULL }, *seg[8];
	const char *params[] = { "max_results", "1", NULL };
	struct provider_call call = { .segments = cloudinary_path(&c, tail, seg, 8),
				      .params = params, .bucket = CLOUDINARY_BUCKET,
				      .label = "GET /resources/image/upload" };
	struct provider_reply r;
	int ret = provider_request(&c.prov, &call, &r) == PROVIDER_OK ? 0 : -1;
	char usage[96];
	cloudinary_usage_text(&c, usage, sizeof(usage));
	if (ret == 0)
		snprintf(detail, len, "HTTP %ld from cloud %s; %s", r.status, c.cfg.cloud, usage);
	else
		snprintf(detail, len, "%s", r.error);
	provider_reply_release(&r);
	http_client_free(c.prov.http);
	c.prov.http = NULL;
	cloudinary_close(&c);
	return ret;
}
