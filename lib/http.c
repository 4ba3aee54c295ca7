/*
 * HTTP client: configuration, the per-request retry state machine (struct
 * xfer) and http_send(). The pure helpers live in http_util.c, the parallel
 * driver in http_multi.c.
 */
#include "http.h"

#include <curl/curl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "http_trust.h"
#include "deadline.h"
#include "http_internal.h"
#include "log.h"
#include "redact.h"
#include "xalloc.h"

#ifndef JOBRUN_VERSION
#define JOBRUN_VERSION "0.1.0"
#endif

#define DEFAULT_USER_AGENT "jobrun/" JOBRUN_VERSION " (+https://github.com/jobrun/jobrun)"

static const struct http_config defaults = {
	.user_agent = DEFAULT_USER_AGENT,
	.connect_timeout_s = 10,
	.timeout_s = 60,
	.max_response_bytes = 32u << 20,
	.max_attempts = 5,
	.backoff_base_s = 1,
	.backoff_cap_s = 60,
	.retry_after_cap_s = 300,
};

/* ------------------------------------------------------------ configuration */

int http_config_from_env(struct http_config *cfg)
{
	*cfg = defaults;
	const char *ua;
	if (config_get_header_value("JOBRUN_USER_AGENT", &ua))
		return -1;
	if (ua)
		cfg->user_agent = ua;
	if (config_get_duration("JOBRUN_HTTP_TIMEOUT", cfg->timeout_s, &cfg->timeout_s))
		return -1;
	if (cfg->timeout_s <= 0)
		return config_error("JOBRUN_HTTP_TIMEOUT: must be more than 0");
	if (config_get_duration("JOBRUN_CONNECT_TIMEOUT", cfg->connect_timeout_s,
				&cfg->connect_timeout_s))
		return -1;
	if (cfg->connect_timeout_s <= 0)
		return config_error("JOBRUN_CONNECT_TIMEOUT: must be more than 0");
	long n;
	if (config_get_long("JOBRUN_HTTP_MAX_ATTEMPTS", cfg->max_attempts, 1, 100, &n))
		return -1;
	cfg->max_attempts = (int)n;
	return 0;
}

/* A zero field means "default", so callers may fill only what they care about. */
static void config_fill(struct http_config *dst, const struct http_config *src)
{
	*dst = src ? *src : defaults;
	if (!dst->user_agent || !*dst->user_agent)
		dst->user_agent = defaults.user_agent;
	if (dst->connect_timeout_s <= 0)
		dst->connect_timeout_s = defaults.connect_timeout_s;
	if (dst->timeout_s <= 0)
		dst->timeout_s = defaults.timeout_s;
	if (!dst->max_response_bytes)
		dst->max_response_bytes = defaults.max_response_bytes;
	if (dst->max_attempts <= 0)
		dst->max_attempts = defaults.max_attempts;
	if (dst->backoff_base_s < 0)
		dst->backoff_base_s = 0;
	if (dst->backoff_cap_s <= 0)
		dst->backoff_cap_s = defaults.backoff_cap_s;
	if (dst->retry_after_cap_s <= 0)
		dst->retry_after_cap_s = defaults.retry_after_cap_s;
}

/* ------------------------------------------------------------------ process */

int http_global_init(void)
{
	/* With CURLOPT_NOSIGNAL libcurl leaves SIGPIPE alone: a write to a
	 * connection the server already closed would kill the process instead
	 * of failing the attempt with EPIPE. */
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return error("libcurl could not be initialized");
	return 0;
}

void http_global_cleanup(void)
{
	curl_global_cleanup();
}

const char *http_library_version(void)
{
	return curl_version();
}

/* ------------------------------------------------------------------- client */

CURL *http_easy_new(void)
{
	CURL *easy = curl_easy_init();
	if (!easy) {
		fprintf(stderr, "jobrun: curl_easy_init failed (out of memory)\n");
		abort();
	}
	return easy;
}

struct http_client *http_client_new(const struct http_config *cfg, const struct http_hooks *hooks)
{
	struct http_client *c = xcalloc(1, sizeof(*c));
	config_fill(&c->cfg, cfg);
	c->user_agent = xstrdup(c->cfg.user_agent);
	c->cfg.user_agent = c->user_agent;
	http_client_set_hooks(c, hooks);

	/* One share for every handle the client makes: http_send() and
	 * http_send_all() reuse each other's keep-alive connections. */
	c->share = curl_share_init();
	if (c->share) {
		curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
		curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
		curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	}
	c->easy = http_easy_new();

	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	c->rng = ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^
		 ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)c;
	if (!c->rng)
		c->rng = 0x9e3779b97f4a7c15ull;
	return c;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	/* Handles go before the share they use. */
	curl_easy_cleanup(c->easy);
	if (c->share)
		curl_share_cleanup(c->share);
	free(c->user_agent);
	free(c);
}

void http_client_set_hooks(struct http_client *c, const struct http_hooks *hooks)
{
	if (hooks)
		c->hooks = *hooks;
	else
		memset(&c->hooks, 0, sizeof(c->hooks));
}

long long http_client_attempts(const struct http_client *c)
{
	return c->attempts;
}

/* xorshift64*: jitter only needs to decorrelate processes, not be secure. */
static double client_rand01(struct http_client *c)
{
	uint64_t x = c->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	c->rng = x;
	return (double)((x * 0x2545f4914f6cdd1dull) >> 11) / 9007199254740992.0;
}

/* ----------------------------------------------------------------- response */

void http_response_release(struct http_response *resp)
{
	if (!resp)
		return;
	free(resp->body);
	free(resp->content_type);
	for (size_t i = 0; i < resp->n_headers; i++) {
		free(resp->headers[i].name);
		free(resp->headers[i].value);
	}
	free(resp->headers);
	memset(resp, 0, sizeof(*resp));
	resp->retry_after_s = -1;
	resp->retry_in_s = -1;
	resp->wait_s = -1;
}

static void free_headers(struct http_header *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
}

/* --------------------------------------------------------- curl callbacks */

static size_t on_body(char *data, size_t size, size_t n, void *p)
{
	struct xfer *x = p;
	size_t len = size * n;
	/* Returning short makes curl fail with CURLE_WRITE_ERROR; the flag
	 * tells xfer_end() why. */
	if (len > x->c->cfg.max_response_bytes - x->body.len) {
		x->too_large = true;
		return 0;
	}
	buf_add(&x->body, data, len);
	return len;
}

static void trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r' ||
			   (*e)[-1] == '\n'))
		(*e)--;
}

/* A server may send any number of headers, and every one is copied: a
 * response over these limits fails its attempt (CURLE_WRITE_ERROR; the flag
 * tells describe_curl() why). Real answers carry about 20 headers, 2 KiB. */
#define MAX_HEADERS 100
#define MAX_HEADER_KIB 64
#define STR_(x) #x
#define STR(x) STR_(x)

static size_t on_header(char *data, size_t size, size_t n, void *p)
{
	struct xfer *x = p;
	size_t len = size * n;
	/* A status line starts a new response: interim 1xx and redirect
	 * headers are dropped, only the last response's are kept. */
	if (len >= 5 && !memcmp(data, "HTTP/", 5)) {
		free_headers(x->hdrs, x->n_hdrs);
		x->hdrs = NULL;
		x->n_hdrs = x->cap_hdrs = 0;
		x->header_bytes = len;
		return len;
	}
	x->header_bytes += len;
	if (x->header_bytes > MAX_HEADER_KIB * 1024) {
		x->headers_too_large = true;
		return 0;
	}
	const char *colon = memchr(data, ':', len);
	if (!colon)
		return len;
	const char *ns = data, *ne = colon, *vs = colon + 1, *ve = data + len;
	trim(&ns, &ne);
	trim(&vs, &ve);
	if (ns == ne)
		return len;
	if (x->n_hdrs == MAX_HEADERS) {
		x->headers_too_large = true;
		return 0;
	}
	if (x->n_hdrs == x->cap_hdrs) {
		x->cap_hdrs = x->cap_hdrs ? 2 * x->cap_hdrs : 16;
		x->hdrs = xrealloc(x->hdrs, x->cap_hdrs * sizeof(*x->hdrs));
	}
	x->hdrs[x->n_hdrs].name = xstrndup(ns, (size_t)(ne - ns));
	x->hdrs[x->n_hdrs].value = xstrndup(vs, (size_t)(ve - vs));
	x->n_hdrs++;
	return len;
}

/* Polled by curl during transfers (about once a second when idle): a stop
 * request aborts the attempt in progress instead of waiting for it. */
static int on_progress(void *p, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	(void)p, (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	/* deadline_should_stop() latches the reason it saw, so whoever reports
	 * this abort later tells the same one. */
	return deadline_should_stop() ? 1 : 0;
}

static int ask_hooks_before_send(struct xfer *x, double granted_at)
{
	const struct http_hooks *h = &x->c->hooks;
	memset(&x->grant, 0, sizeof(x->grant));
	if (h->before_send) {
		double left = x->timeout_s - (clock_mono() - x->started_at);
		struct http_send send = { .granted_at = granted_at,
					  .max_wait_s = left > 0 ? left / 2 : 0 };
		return h->before_send(h->ctx, x->req, &send, &x->grant);
	}
	if (granted_at < 0 && h->before_attempt) {
		if (h->before_attempt(h->ctx, x->req, &x->grant))
			return 1;
		/* No before_send to take a slot on the connection: wait for the
		 * one reserved here. */
		if (x->grant.send_at > 0 && xfer_wait_until(x->grant.send_at)) {
			x->grant.refusal = HTTP_REFUSED_STOPPED;
			return 1;
		}
	}
	return 0;
}

/* libcurl calls this right before it sends a request, on a connection that
 * is established (or reused) — the moment the request really leaves, which
 * is what the provider's spacing is about. It is called again within the
 * same attempt when libcurl silently re-sends on a new connection because a
 * reused one turned out dead: that re-send reaches the provider too, so it
 * passes the hooks like any send (the limiter takes a slot for it here,
 * where the new connection is ready, rather than aborting it, which would
 * throw that connection away and make the next try late again) and counts
 * as an attempt of its own. Waiting in here blocks the other transfers of
 * http_send_all(); only a send that missed its slot does. */
static int on_prereq(void *p, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
		     int conn_local_port)
{
	(void)conn_primary_ip, (void)conn_local_ip, (void)conn_primary_port, (void)conn_local_port;
	struct xfer *x = p;
	double granted_at = x->granted_at;
	x->granted_at = -1; /* a grant is for one send */
	if (ask_hooks_before_send(x, granted_at)) {
		x->refused = true;
		return CURL_PREREQFUNC_ABORT;
	}
	if (x->sends++) {
		x->resp->attempts++;
		x->c->attempts++;
		log_info("http re-send on a new connection", LF_S("request", x->label),
			 LF_I("attempt", x->resp->attempts));
	}
	return CURL_PREREQFUNC_OK;
}

/* ------------------------------------------------------------ error text */

static void set_error(struct xfer *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_error(struct xfer *x, const char *fmt, ...)
{
	char raw[1024];
	int n = snprintf(raw, sizeof(raw), "%s: ", x->label);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(raw))
		vsnprintf(raw + n, sizeof(raw) - (size_t)n, fmt, ap);
	va_end(ap);
	char *safe = redact_string(raw);
	snprintf(x->resp->error, sizeof(x->resp->error), "%s", safe);
	free(safe);
}

static const char *plural(int n)
{
	return n == 1 ? "" : "s";
}

/* Method and URL path only: the host adds nothing and the query is where
 * API keys live. redact_string() still runs over the final message. */
static void make_label(struct xfer *x)
{
	const struct http_request *req = x->req;
	if (req->label && *req->label) {
		snprintf(x->label, sizeof(x->label), "%s", req->label);
		return;
	}
	const char *url = req->url ? req->url : "";
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	p += strcspn(p, "/?#");
	size_t len = strcspn(p, "?#");
	snprintf(x->label, sizeof(x->label), "%s %.*s", req->method ? req->method : "GET",
		 len ? (int)len : 1, len ? p : "/");
}

/* ---------------------------------------------------------------- secrets */

/* "Authorization: Bearer abc" registers "Bearer abc" and "abc". */
static void register_header_secret(const char *line)
{
	const char *colon = strchr(line, ':');
	if (!colon || !redact_is_secret_name(line, (size_t)(colon - line)))
		return;
	const char *v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	redact_add(v);
	const char *space = strrchr(v, ' ');
	if (space)
		redact_add(space + 1);
}

/* Query values under secret names (api_key=…) are registered too, so the
 * key stays hidden even where it shows up without its name. */
static void register_url_secrets(const char *url)
{
	const char *q = url ? strchr(url, '?') : NULL;
	while (q) {
		const char *name = q + 1;
		size_t span = strcspn(name, "&#");
		const char *eq = memchr(name, '=', span);
		if (eq && redact_is_secret_name(name, (size_t)(eq - name))) {
			char *v = xstrndup(eq + 1, span - (size_t)(eq + 1 - name));
			redact_add(v);
			free(v);
		}
		q = name[span] == '&' ? name + span : NULL;
	}
}

static void register_secrets(const struct http_request *req)
{
	if (req->userpwd) {
		const char *colon = strchr(req->userpwd, ':');
		redact_add(colon ? colon + 1 : req->userpwd);
	}
	for (const char *const *h = req->headers; h && *h; h++)
		register_header_secret(*h);
	register_url_secrets(req->url);
}

/* ------------------------------------------------------------ xfer: setup */

void xfer_init(struct xfer *x, struct http_client *c, const struct http_request *req,
	       struct http_response *resp)
{
	memset(x, 0, sizeof(*x));
	x->c = c;
	x->req = req;
	x->resp = resp;
	memset(resp, 0, sizeof(*resp));
	resp->retry_after_s = -1;
	resp->retry_in_s = -1;
	resp->wait_s = -1;
	resp->class = HTTP_CLASS_RETRY;
	resp->body = xstrdup("");
	make_label(x);
	register_secrets(req);
	for (const char *const *h = req->headers; h && *h; h++)
		x->headers = curl_slist_append(x->headers, *h);
	/* No "Expect: 100-continue" round trip for larger bodies. */
	x->headers = curl_slist_append(x->headers, "Expect:");
}

void xfer_release(struct xfer *x)
{
	curl_slist_free_all(x->headers);
	buf_release(&x->body);
	free_headers(x->hdrs, x->n_hdrs);
	memset(x, 0, sizeof(*x));
}

/* Rounded up: a timeout clipped to the deadline must not fire before it. */
static long clamp_ms(double seconds)
{
	double ms = ceil(seconds * 1000);
	if (ms < 1)
		return 1; /* 0 would mean "no timeout" to curl */
	return ms > 2e9 ? 2000000000L : (long)ms;
}

static void setup_method(CURL *easy, const struct http_request *req)
{
	const char *m = req->method ? req->method : "GET";
	if (!strcmp(m, "HEAD")) {
		curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
		return;
	}
	if (req->body || !strcmp(m, "POST")) {
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req->body ? req->body : "");
	} else {
		curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
	}
	if (strcmp(m, "GET") && strcmp(m, "POST"))
		curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, m);
}

static void setup_easy(struct xfer *x, CURL *easy)
{
	const struct http_config *cfg = &x->c->cfg;
	const struct http_request *req = x->req;
	/* Reset keeps live connections; options must not leak between requests. */
	curl_easy_reset(easy);
	curl_easy_setopt(easy, CURLOPT_URL, req->url ? req->url : "");
	curl_easy_setopt(easy, CURLOPT_PRIVATE, x);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	if (x->c->share)
		curl_easy_setopt(easy, CURLOPT_SHARE, x->c->share);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, cfg->user_agent);
	curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, x->headers);
	if (req->userpwd) {
		curl_easy_setopt(easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(easy, CURLOPT_USERPWD, req->userpwd);
	}
	setup_method(easy, req);
	http_trust_apply(easy);

	double budget = deadline_remaining();
	x->timeout_is_deadline = budget <= cfg->timeout_s;
	x->connect_is_deadline = budget <= cfg->connect_timeout_s;
	double total = x->timeout_is_deadline ? budget : cfg->timeout_s;
	double connect = x->connect_is_deadline ? budget : cfg->connect_timeout_s;
	if (connect > total)
		connect = total;
	x->started_at = clock_mono();
	x->timeout_s = total;
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, clamp_ms(total));
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, clamp_ms(connect));
	curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, on_prereq);
	curl_easy_setopt(easy, CURLOPT_PREREQDATA, x);

	curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cfg->max_response_bytes);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, x->curl_err);
}

/* ---------------------------------------------------------- xfer: attempts */

/* Only ever called once a stop is known: a latched reason, or a timeout
 * that was the deadline's (then deadline_passed() latches it). */
static void finish_stopped(struct xfer *x)
{
	struct http_response *r = x->resp;
	deadline_passed();
	const char *why = deadline_reason_name(deadline_reason());
	r->outcome = HTTP_STOPPED;
	if (r->attempts)
		set_error(x, "stopped (%s) after %d attempt%s: %s", why, r->attempts,
			  plural(r->attempts), x->last);
	else
		set_error(x, "stopped (%s) before the first attempt", why);
}

void xfer_stop(struct xfer *x)
{
	finish_stopped(x);
}

/* A hook refused to let a request go (x->grant says why): the refusal is
 * this request's, and travels in its response. */
static enum xfer_step refused(struct xfer *x)
{
	struct http_response *r = x->resp;
	r->refusal = x->grant.refusal ? x->grant.refusal : HTTP_REFUSED_BUDGET;
	r->retry_in_s = r->refusal == HTTP_REFUSED_BUDGET ? x->grant.retry_in_s : -1;
	if (deadline_should_stop()) {
		r->refusal = HTTP_REFUSED_STOPPED;
		finish_stopped(x);
		return XFER_FINAL;
	}
	r->outcome = HTTP_DENIED;
	const char *why = x->grant.reason[0] ? x->grant.reason : "refused before the attempt";
	/* A refused retry: what the last attempt got is the news. */
	if (r->attempts)
		set_error(x, "%s after %d attempt%s; the retry was not sent: %s", x->last,
			  r->attempts, plural(r->attempts), why);
	else
		set_error(x, "not sent: %s", why);
	return XFER_FINAL;
}

int xfer_wait_until(double target)
{
	double now = clock_mono();
	if (target - now > XFER_SPIN_S && deadline_sleep(target - now - XFER_SPIN_S))
		return -1;
	double last = -1;
	for (;;) {
		if (deadline_should_stop())
			return -1;
		now = clock_mono();
		if (now >= target)
			return 0;
		/* A clock that stands still is a test's fake one: let it jump. */
		if (now == last)
			clock_sleep(target - now);
		last = now;
	}
}

/* 0: go at x->granted_at; 1: parked until x->wake_at; -1: refused (final). */
static int run_before_hook(struct xfer *x)
{
	const struct http_hooks *h = &x->c->hooks;
	if (x->holds_grant) {
		/* Woken for the slot reserved earlier: it is this attempt's,
		 * unless the hook moves it. */
		if (h->on_wake) {
			if (h->on_wake(h->ctx, x->req, &x->grant)) {
				x->holds_grant = false;
				refused(x);
				return -1;
			}
			if (x->grant.send_at > clock_mono()) {
				x->wake_at = x->grant.send_at;
				return 1;
			}
		}
		x->holds_grant = false;
		x->granted_at = x->grant.slot_at > 0 ? x->grant.slot_at : x->grant.send_at;
		return 0;
	}
	if (!h->before_attempt) {
		x->granted_at = -1;
		return 0;
	}
	memset(&x->grant, 0, sizeof(x->grant));
	if (h->before_attempt(h->ctx, x->req, &x->grant)) {
		refused(x);
		return -1;
	}
	double now = clock_mono();
	if (x->grant.send_at > now) {
		x->holds_grant = true;
		x->wake_at = x->grant.send_at;
		return 1;
	}
	/* Lateness counts from the slot, when there was one. */
	x->granted_at = x->grant.slot_at > 0 ? x->grant.slot_at
					     : x->grant.send_at > 0 ? x->grant.send_at : now;
	return 0;
}

enum xfer_start xfer_begin(struct xfer *x, CURL *easy)
{
	if (deadline_should_stop()) {
		finish_stopped(x);
		return XFER_DONE;
	}
	int hook = run_before_hook(x);
	if (hook < 0)
		return XFER_DONE;
	if (hook > 0)
		return XFER_PARKED;
	x->sends = 0;
	x->refused = false;
	buf_reset(&x->body);
	free_headers(x->hdrs, x->n_hdrs);
	x->hdrs = NULL;
	x->n_hdrs = x->cap_hdrs = 0;
	x->too_large = false;
	x->curl_err[0] = '\0';
	x->attempt_retry_after = -1;
	setup_easy(x, easy);
	x->resp->attempts++;
	x->c->attempts++;
	log_debug("http attempt", LF_S("request", x->label), LF_I("attempt", x->resp->attempts));
	return XFER_GO;
}

/* Hand this attempt's body and headers to resp, where classify() and the
 * caller see them. */
static void collect_response(struct xfer *x, CURL *easy)
{
	struct http_response *r = x->resp;
	long status = 0;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	r->status = status;
	free(r->body);
	r->body_len = x->body.len;
	r->body = buf_detach(&x->body);
	free_headers(r->headers, r->n_headers);
	r->headers = x->hdrs;
	r->n_headers = x->n_hdrs;
	x->hdrs = NULL;
	x->n_hdrs = x->cap_hdrs = 0;
	free(r->content_type);
	const char *ct = http_response_header(r, "Content-Type");
	r->content_type = ct ? xstrdup(ct) : NULL;
	r->signal = 0;
	r->wait_s = -1;
	const char *ra = http_response_header(r, "Retry-After");
	x->attempt_retry_after = ra ? http_parse_retry_after(ra, clock_wall()) : -1;
	if (x->attempt_retry_after >= 0)
		r->retry_after_s = x->attempt_retry_after;
}

/* Decide whether another attempt fits: attempts left, and a wait that ends
 * before the deadline. */
static enum xfer_step plan_retry(struct xfer *x, bool rate_limited, double *wait)
{
	struct http_client *c = x->c;
	struct http_response *r = x->resp;
	/* The provider's own reading of when to come back (classify) wins
	 * over a bare Retry-After and over a blind backoff. */
	double ra = r->wait_s >= 0 ? r->wait_s : x->attempt_retry_after;
	/* The limiter hears the server's full wait: it blocks the bucket for
	 * every process, however long that is. */
	if (rate_limited && c->hooks.on_rate_limited)
		c->hooks.on_rate_limited(c->hooks.ctx, x->req, r, ra);
	/* No time left is the deadline, never "gave up": whichever layer saw
	 * it first, the run stops for the deadline. */
	double left = deadline_remaining();
	if (left <= 0) {
		finish_stopped(x);
		return XFER_FINAL;
	}
	if (ra > c->cfg.retry_after_cap_s) {
		r->outcome = HTTP_RATE_LIMITED;
		set_error(x, "%s; the server asked to wait %.0fs, longer than the %.0fs jobrun waits "
			  "within a request, gave up after %d attempt%s", x->last, ra,
			  c->cfg.retry_after_cap_s, r->attempts, plural(r->attempts));
		return XFER_FINAL;
	}
	if (r->attempts >= c->cfg.max_attempts) {
		r->outcome = rate_limited ? HTTP_RATE_LIMITED : HTTP_GAVE_UP;
		set_error(x, "%s after %d attempt%s: %s",
			  rate_limited ? "still rate limited" : "gave up", r->attempts,
			  plural(r->attempts), x->last);
		return XFER_FINAL;
	}
	double w = ra >= 0 ? ra
			   : http_backoff_delay(r->attempts, c->cfg.backoff_base_s,
						c->cfg.backoff_cap_s, client_rand01(c));
	if (w >= left) {
		r->outcome = rate_limited ? HTTP_RATE_LIMITED : HTTP_GAVE_UP;
		set_error(x, "%s; waiting %.1fs to retry would pass the deadline (%.1fs left), "
			  "gave up after %d attempt%s", x->last, w, left, r->attempts,
			  plural(r->attempts));
		return XFER_FINAL;
	}
	log_warn("http retry", LF_S("request", x->label), LF_I("attempt", r->attempts),
		 LF_I("status", r->status), LF_S("error", x->last), LF_F("wait_s", w));
	*wait = w;
	return XFER_WAIT;
}

static enum xfer_step after_response(struct xfer *x, double *wait)
{
	struct http_client *c = x->c;
	struct http_response *r = x->resp;
	enum http_class dflt = http_default_class(r->status);
	r->class = c->hooks.classify ? c->hooks.classify(c->hooks.ctx, x->req, r, dflt) : dflt;
	snprintf(x->last, sizeof(x->last), "%sHTTP %ld",
		 r->class == HTTP_CLASS_RATE_LIMITED ? "rate limited: " : "", r->status);
	switch (r->class) {
	case HTTP_CLASS_OK:
		r->outcome = HTTP_DONE;
		r->error[0] = '\0';
		return XFER_FINAL;
	case HTTP_CLASS_FATAL:
		r->outcome = HTTP_DONE;
		set_error(x, "fatal response: HTTP %ld", r->status);
		return XFER_FINAL;
	case HTTP_CLASS_RETRY:
		return plan_retry(x, false, wait);
	case HTTP_CLASS_RATE_LIMITED:
		r->rate_limited = true;
		return plan_retry(x, true, wait);
	}
	return XFER_FINAL;
}

/* The TLS layer found no TLS at the other end: the URL says https, the
 * server answers plain HTTP (or something else). Each TLS library words it
 * its own way. */
static bool tls_protocol_mismatch(const char *detail)
{
	static const char *const signs[] = {
		"wrong version number",   /* OpenSSL: a plain-HTTP reply to the hello */
		"packet length too long", /* OpenSSL, other plain-text replies */
		"unknown protocol",       /* OpenSSL 1.0 */
		"unexpected TLS packet",  /* GnuTLS */
		"invalid SSL record",     /* mbedTLS */
		"InvalidContentType",     /* rustls */
	};
	for (size_t i = 0; i < sizeof(signs) / sizeof(signs[0]); i++)
		if (strstr(detail, signs[i]))
			return true;
	return false;
}

/* A failed attempt in words an operator reads, and whether another attempt
 * may succeed. Failures that no retry can fix because the configuration is
 * wrong are marked in resp->config_error (the run exits 78). */
static const char *describe_curl(struct xfer *x, CURLcode rc, const char *detail, bool *retry)
{
	*retry = true;
	switch (rc) {
	case CURLE_COULDNT_CONNECT: return "could not connect";
	case CURLE_COULDNT_RESOLVE_HOST: return "could not resolve host";
	case CURLE_OPERATION_TIMEDOUT: return "timed out";
	case CURLE_RECV_ERROR:
		return strstr(detail, "reset") ? "connection reset" : "receive failed";
	case CURLE_SEND_ERROR: return "send failed";
	case CURLE_PARTIAL_FILE: return "truncated body";
	case CURLE_GOT_NOTHING: return "empty reply";
	case CURLE_SSL_CONNECT_ERROR:
		if (!tls_protocol_mismatch(detail))
			return "tls handshake failed";
		*retry = false;
		x->resp->config_error = true;
		/* x->last must hold this and curl's detail: keep it short. */
		return "the URL's scheme does not match the server: no TLS";
	case CURLE_WRITE_ERROR:
		*retry = false;
		return x->headers_too_large ? "response headers over the limit (" STR(MAX_HEADERS)
						" headers, " STR(MAX_HEADER_KIB) " KiB)"
					    : "request failed";
	default:
		*retry = false;
		return "request failed";
	}
}

static enum xfer_step after_transport_error(struct xfer *x, CURLcode rc, double *wait)
{
	struct http_response *r = x->resp;
	if (x->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
		r->outcome = HTTP_TOO_LARGE;
		r->class = HTTP_CLASS_FATAL;
		set_error(x, "response larger than the %zu byte limit (HTTP %ld)",
			  x->c->cfg.max_response_bytes, r->status);
		return XFER_FINAL;
	}
	const char *detail = x->curl_err[0] ? x->curl_err : curl_easy_strerror(rc);
	bool retry;
	const char *what = describe_curl(x, rc, detail, &retry);
	snprintf(x->last, sizeof(x->last), "%s (curl: %s)", what, detail);
	if (rc == CURLE_ABORTED_BY_CALLBACK && x->refused) {
		/* Nothing left: as with a refusal before the attempt, no attempt. */
		if (!x->sends) {
			r->attempts--;
			x->c->attempts--;
		}
		return refused(x);
	}
	/* An abort from on_progress (a stop request), or a timeout that was
	 * clipped to the deadline: stopped by cause, even when curl fired a
	 * fraction of a millisecond before the deadline by our clock. Whether
	 * the connect or the whole-attempt timer fired depends on whether the
	 * request was sent. */
	bool deadline_timeout = rc == CURLE_OPERATION_TIMEDOUT &&
				(x->sends ? x->timeout_is_deadline : x->connect_is_deadline);
	if (rc == CURLE_ABORTED_BY_CALLBACK || deadline_timeout || deadline_should_stop()) {
		finish_stopped(x);
		return XFER_FINAL;
	}
	if (!retry) {
		r->outcome = HTTP_GAVE_UP;
		r->class = HTTP_CLASS_FATAL;
		set_error(x, "%s", x->last);
		return XFER_FINAL;
	}
	r->class = HTTP_CLASS_RETRY;
	return plan_retry(x, false, wait);
}

enum xfer_step xfer_end(struct xfer *x, CURL *easy, CURLcode rc, double *wait)
{
	collect_response(x, easy);
	log_debug("http attempt done", LF_S("request", x->label),
		  LF_I("attempt", x->resp->attempts), LF_I("status", x->resp->status),
		  LF_S("curl", rc == CURLE_OK ? "ok" : curl_easy_strerror(rc)));
	*wait = 0;
	if (rc == CURLE_OK)
		return after_response(x, wait);
	return after_transport_error(x, rc, wait);
}

/* -------------------------------------------------------------- http_send */

int http_send(struct http_client *c, const struct http_request *req, struct http_response *resp)
{
	struct xfer x;
	xfer_init(&x, c, req, resp);
	for (;;) {
		enum xfer_start start = xfer_begin(&x, c->easy);
		if (start == XFER_DONE)
			break;
		if (start == XFER_PARKED) {
			/* One request alone: wait for its slot here. */
			if (xfer_wait_until(x.wake_at)) {
				xfer_stop(&x);
				break;
			}
			continue;
		}
		CURLcode rc = curl_easy_perform(c->easy);
		double wait;
		if (xfer_end(&x, c->easy, rc, &wait) == XFER_FINAL)
			break;
		if (deadline_sleep(wait)) {
			xfer_stop(&x);
			break;
		}
	}
	xfer_release(&x);
	/* The easy handle must not keep pointers into the freed xfer. */
	curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, NULL);
	return resp->outcome == HTTP_DONE ? 0 : -1;
}
