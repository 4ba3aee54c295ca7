/*
 * ComicVine on the provider pattern: its descriptor (bucket map, classify,
 * interpret, the "no Retry-After means the hour is spent" policy), its
 * configuration, and thin typed helpers. Parsing lives in comicvine_parse.c.
 */
#include "comicvine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "deadline.h"
#include "limiter.h"
#include "log.h"
#include "provider.h"
#include "redact.h"
#include "xalloc.h"

#define DEFAULT_URL "https://comicvine.gamespot.com/api"
#define PROVIDER "comicvine"

static const char *const path_names[CV_NPATHS] = { "/volumes/", "/volume/", "/issues/", "/issue/" };
static const char *const path_segments[CV_NPATHS] = { "volumes", "volume", "issues", "issue" };
/* A request labelled with this bucket name maps to its path's bucket alone:
 * a rate-limit answer blocks the path it came from, not every path. */
static const char *const path_only_names[CV_NPATHS] = { "path:/volumes/", "path:/volume/",
							 "path:/issues/", "path:/issue/" };

const char *cv_path_name(enum cv_path p)
{
	return path_names[p];
}

static int parse_intervals(const char *text, double out[CV_NAGES])
{
	char *copy = xstrdup(text), *save = NULL;
	int n = 0, ret = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == CV_NAGES || parse_duration(tok, &out[n]) || out[n] <= 0) {
			ret = -1;
			break;
		}
		n++;
	}
	free(copy);
	if (ret || n != CV_NAGES)
		return config_error("COMICVINE_REFRESH_INTERVALS: expected three durations like "
				    "'7d,14d,30d' (recent, 4-10 years, older), got '%s'", text);
	return 0;
}

int comicvine_config_from_env(struct comicvine_config *cfg, bool need_key)
{
	memset(cfg, 0, sizeof(*cfg));
	const char *intervals = config_get("COMICVINE_REFRESH_INTERVALS");
	if (need_key) {
		if (config_require_secret("COMICVINE_API_KEY", &cfg->api_key))
			return -1;
	} else {
		cfg->api_key = config_get("COMICVINE_API_KEY");
		redact_add(cfg->api_key);
	}
	if (config_get_header_value("COMICVINE_USER_AGENT", &cfg->user_agent) ||
	    config_get_url("COMICVINE_API_URL", DEFAULT_URL, &cfg->base_url) ||
	    config_get_long("COMICVINE_HOURLY_LIMIT", 200, 1, 1000000, &cfg->hourly_limit) ||
	    config_get_duration("COMICVINE_MIN_INTERVAL", 1.0, &cfg->min_interval_s) ||
	    config_get_long("COMICVINE_DAILY_LIMIT", 0, 0, 100000000, &cfg->daily_limit) ||
	    parse_intervals(intervals ? intervals : "7d,14d,30d", cfg->refresh_s)) {
		comicvine_config_release(cfg);
		return -1;
	}
	return 0;
}

void comicvine_config_release(struct comicvine_config *cfg)
{
	free(cfg->base_url);
	cfg->base_url = NULL;
}

void comicvine_init(struct comicvine *cv, struct comicvine_config *cfg, long long max_requests)
{
	memset(cv, 0, sizeof(*cv));
	cv->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	for (int p = 0; p < CV_NPATHS; p++) {
		cv->buckets[p][0] = (struct rl_bucket){ PROVIDER, path_names[p], cv->cfg.hourly_limit,
							3600, 0, false };
		/* Spacing spans every path; so does the optional daily cap. */
		cv->buckets[p][1] = (struct rl_bucket){ PROVIDER, "*", cv->cfg.daily_limit, 86400,
							cv->cfg.min_interval_s, false };
	}
	provider_init(&cv->prov, &comicvine_desc, cv->cfg.base_url, cv->cfg.api_key, cv,
		      max_requests);
	cv->prov.user_agent = cv->cfg.user_agent;
}

void comicvine_release(struct comicvine *cv)
{
	provider_release(&cv->prov);
	comicvine_config_release(&cv->cfg);
}

static int path_of(const char *bucket)
{
	for (int p = 0; bucket && p < CV_NPATHS; p++)
		if (!strcmp(bucket, path_names[p]) || !strcmp(bucket, path_only_names[p]))
			return p;
	return -1;
}

static int cv_map(struct provider *pv, const char *bucket, const struct rl_bucket **out)
{
	struct comicvine *cv = pv->client;
	int p = path_of(bucket);
	if (p < 0)
		return 0;
	*out = cv->buckets[p];
	return strncmp(bucket, "path:", 5) ? 2 : 1;
}

int comicvine_map_buckets(void *ctx, const char *bucket, const struct rl_bucket **out)
{
	struct comicvine *cv = ctx;
	return cv_map(&cv->prov, bucket, out);
}

long long comicvine_total_requests(const struct comicvine *cv)
{
	long long n = 0;
	for (int p = 0; p < CV_NPATHS; p++)
		n += cv->requests[p];
	return n;
}

static void cv_on_send(struct provider *pv, const char *bucket)
{
	struct comicvine *cv = pv->client;
	int p = path_of(bucket);
	if (p >= 0)
		cv->requests[p]++;
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

/* ComicVine says "slow down" in several ways; all of them stop the path.
 * The reading travels with the answer (resp->signal). */
static enum http_class cv_classify(struct provider *pv, const struct http_request *req,
				   struct http_response *resp, enum http_class dflt)
{
	(void)pv;
	(void)req;
	/* The envelope's own status_code: a substring would also match 1000,
	 * or a record's field of that name. */
	long code = cv_envelope_status(resp->body, resp->body_len);
	if (code == 100) {
		resp->signal = CV_SIG_BAD_KEY;
		return HTTP_CLASS_FATAL;
	}
	if (resp->status == 420 || resp->status == 429 || code == 107) {
		resp->signal = CV_SIG_RATE_LIMITED;
		return HTTP_CLASS_RATE_LIMITED;
	}
	if (resp->status == 403 || looks_like_html(resp)) {
		resp->signal = CV_SIG_BLOCKED;
		return HTTP_CLASS_RATE_LIMITED;
	}
	return dflt;
}

/* A rate-limit answer blocks the path it came from, not every path. */
static void cv_on_rate_limited(struct provider *pv, const struct http_request *req,
			       const struct http_response *resp, double seconds)
{
	int p = path_of(req->bucket);
	if (p < 0)
		return;
	struct http_request path_only = *req;
	path_only.bucket = path_only_names[p];
	log_warn(resp->signal == CV_SIG_BLOCKED ? "ComicVine blocked a request"
						: "ComicVine rate limited a request",
		 LF_S("path", path_names[p]), LF_F("retry_after_s", seconds));
	if (pv->limiter)
		limiter_on_rate_limited(pv->limiter, &path_only, resp, seconds);
}

static enum provider_result cv_interpret(struct provider *pv, const struct provider_call *call,
					 const struct http_response *r, const char *text, size_t len,
					 json_t **json, char *err, size_t errlen)
{
	(void)pv;
	if (r->class == HTTP_CLASS_FATAL || r->signal == CV_SIG_BAD_KEY) {
		snprintf(err, errlen, "ComicVine rejected the API key (status 100): check COMICVINE_API_KEY");
		return PROVIDER_BAD_CREDENTIALS;
	}
	struct cv_page page;
	long code;
	if (cv_parse_envelope(text, len, &page, &code, err, errlen)) {
		char detail[256];
		snprintf(detail, sizeof(detail), "%s", err);
		snprintf(err, errlen, "HTTP %ld: %s", r->status, detail);
		return PROVIDER_FAILED;
	}
	int p = path_of(call->bucket);
	if (code == 1 && r->status == 200) {
		/* A malformed answer is a failed request, never "every id omitted". */
		if (cv_check_results(&page, p == CV_VOLUMES || p == CV_ISSUES, err, errlen)) {
			cv_page_release(&page);
			return PROVIDER_FAILED;
		}
		*json = page.root;
		return PROVIDER_OK;
	}
	const char *msg = json_string_value(json_object_get(page.root, "error"));
	snprintf(err, errlen, "ComicVine status_code %ld (HTTP %ld): %s", code, r->status,
		 msg ? msg : "no message");
	cv_page_release(&page);
	return code == 101 ? PROVIDER_NOT_FOUND : PROVIDER_FAILED;
}

/* ComicVine as a provider. Its facts: DESIGN.md §5. */
const struct provider_desc comicvine_desc = {
	.name = PROVIDER,
	.url_var = "COMICVINE_API_URL",
	.default_url = DEFAULT_URL,
	.secret_var = "COMICVINE_API_KEY",
	.auth = PROVIDER_AUTH_QUERY,
	.auth_name = "api_key",
	/* No rate headers: it speaks in 420s and body status codes. */
	.unknown_wait_is_window = true, /* a 420 without Retry-After: the hour is spent */
	.default_budget = 180,
	.map = cv_map,
	.classify = cv_classify,
	.interpret = cv_interpret,
	.on_send = cv_on_send,
	.on_rate_limited = cv_on_rate_limited,
};

struct http_hooks comicvine_hooks(struct comicvine *cv, struct limiter *limiter)
{
	return provider_hooks(&cv->prov, limiter);
}

enum provider_result comicvine_get(struct comicvine *cv, enum cv_path p, const char *resource,
				   const char *query, struct cv_page *page, char *err, size_t errlen)
{
	memset(page, 0, sizeof(*page));
	if (cv->path_stopped[p]) {
		snprintf(err, errlen, "%s is stopped for this run", path_names[p]);
		return PROVIDER_STOP_BUCKET;
	}
	const char *segments[] = { path_segments[p], resource ? resource : "", resource ? "" : NULL,
				   NULL };
	const char *params[] = { "format", "json", NULL };
	char label[64];
	snprintf(label, sizeof(label), "GET %s", path_names[p]);
	struct provider_call call = { .segments = segments, .params = params, .query = query,
				      .bucket = path_names[p], .label = label };
	struct provider_reply r;
	enum provider_result res = provider_request(&cv->prov, &call, &r);
	snprintf(err, errlen, "%s", r.error);
	if (res == PROVIDER_OK) {
		page->root = r.json;
		r.json = NULL;
		json_t *total = json_object_get(page->root, "number_of_total_results");
		page->results = json_object_get(page->root, "results");
		page->total = json_is_integer(total) ? (long)json_integer_value(total) : 0;
		page->offset = (long)json_integer_value(json_object_get(page->root, "offset"));
	} else if (res == PROVIDER_STOP_BUCKET) {
		cv->path_stopped[p] = true;
	}
	/* The run's budget is every path's. */
	if (cv->prov.budget_spent)
		for (int i = 0; i < CV_NPATHS; i++)
			cv->path_stopped[i] = true;
	provider_reply_release(&r);
	return res;
}

void cv_page_release(struct cv_page *page)
{
	json_decref(page->root);
	memset(page, 0, sizeof(*page));
}

/* <base>/<path>/?api_key=…&format=json&<query>, for the ping. */
static char *build_url(const struct comicvine *cv, enum cv_path p, const char *query)
{
	const char *segments[] = { path_segments[p], "", NULL };
	const char *params[] = { "api_key", cv->cfg.api_key ? cv->cfg.api_key : "", "format", "json",
				 NULL };
	char *url = http_url_build(cv->cfg.base_url, segments, params, query);
	/* base_url passed libcurl's own parser in comicvine_config_from_env. */
	if (!url) {
		fprintf(stderr, "jobrun: libcurl could not build a ComicVine URL (out of memory)\n");
		abort();
	}
	return url;
}

/* One cheap authenticated request, outside the limiter (doctor runs it by
 * hand, once): the first volume's id. */
int comicvine_ping(char *detail, size_t len)
{
	struct comicvine_config cfg;
	struct http_config hc;
	if (comicvine_config_from_env(&cfg, true) || http_config_from_env(&hc)) {
		/* cfg is always safe to release; it owns base_url when the
		 * ComicVine part succeeded and the http part did not. */
		comicvine_config_release(&cfg);
		snprintf(detail, len, "%s", error_last() ? error_last() : "configuration error");
		return -1;
	}
	if (cfg.user_agent)
		hc.user_agent = cfg.user_agent;
	hc.max_attempts = 1;
	struct comicvine cv;
	comicvine_init(&cv, &cfg, 1);
	struct http_client *http = http_client_new(&hc, NULL);
	char *url = build_url(&cv, CV_VOLUMES, "limit=1&field_list=id");
	struct http_request req = { .url = url, .label = "GET /volumes/" };
	struct http_response resp;
	int ret = -1;
	if (http_send(http, &req, &resp) == 0) {
		struct cv_page page;
		long code;
		if (cv_parse_envelope(resp.body, resp.body_len, &page, &code, detail, len) == 0) {
			const char *msg = json_string_value(json_object_get(page.root, "error"));
			snprintf(detail, len, "HTTP %ld, status_code %ld (%s)", resp.status, code,
				 msg ? msg : "?");
			ret = code == 1 ? 0 : -1;
			cv_page_release(&page);
		}
	} else {
		snprintf(detail, len, "%s", resp.error);
	}
	http_response_release(&resp);
	free(url);
	http_client_free(http);
	comicvine_release(&cv);
	return ret;
}
