/*
 * The provider pattern (provider.h): hooks over the limiter, the request
 * call and its common result, the page iterator and streams on a pool.
 */
#include "provider.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "deadline.h"
#include "json_text.h"
#include "limiter.h"
#include "log.h"
#include "redact.h"
#include "xalloc.h"

/* ------------------------------------------------------------- lifecycle */

void provider_init(struct provider *p, const struct provider_desc *d, const char *base_url,
		   const char *secret, void *client, long long budget)
{
	memset(p, 0, sizeof(*p));
	p->desc = d;
	p->base_url = base_url ? xstrdup(base_url) : NULL;
	p->secret = secret;
	redact_add(secret);
	p->client = client;
	p->budget = budget ? budget : (d->default_budget ? d->default_budget : -1);
}

void provider_release(struct provider *p)
{
	free(p->base_url);
	p->base_url = NULL;
}

int provider_config_from_env(const struct provider_desc *d, bool need_secret, char **base_url,
			     const char **secret)
{
	*base_url = NULL;
	*secret = NULL;
	if (d->secret_var) {
		if (need_secret) {
			if (config_require_secret(d->secret_var, secret))
				return -1;
		} else {
			*secret = config_get(d->secret_var);
			redact_add(*secret);
		}
	}
	return config_get_url(d->url_var, d->default_url, base_url);
}

/* ----------------------------------------------------------------- hooks */

int provider_map_buckets(void *ctx, const char *bucket, const struct rl_bucket **out)
{
	struct provider *p = ctx;
	return p->desc->map ? p->desc->map(p, bucket, out) : 0;
}

static int p_before_attempt(void *ctx, const struct http_request *req, struct http_grant *g)
{
	struct provider *p = ctx;
	if (p->budget >= 0 && p->attempts >= p->budget) {
		g->refusal = HTTP_REFUSED_LIMIT;
		snprintf(g->reason, sizeof(g->reason), "request limit reached (--limit %lld)",
			 p->budget);
		return 1;
	}
	return p->limiter ? limiter_before_attempt(p->limiter, req, g) : 0;
}

static int p_on_wake(void *ctx, const struct http_request *req, struct http_grant *g)
{
	struct provider *p = ctx;
	return p->limiter ? limiter_on_wake(p->limiter, req, g) : 0;
}

/* Counted when the request really leaves: libcurl's re-sends count too. */
static int p_before_send(void *ctx, const struct http_request *req, const struct http_send *send,
			 struct http_grant *g)
{
	struct provider *p = ctx;
	if (p->limiter && limiter_before_send(p->limiter, req, send, g))
		return 1;
	p->attempts++;
	if (p->desc->on_send)
		p->desc->on_send(p, req->bucket);
	return 0;
}

double provider_parse_reset(const char *value, enum provider_reset fmt, double now_wall)
{
	if (!value || !*value)
		return -1;
	if (fmt == PROVIDER_RESET_HTTP_DATE) {
		double at = http_parse_date(value);
		if (at < 0)
			return -1;
		return at > now_wall ? at - now_wall : 0;
	}
	char *end;
	errno = 0;
	double v = strtod(value, &end);
	while (*end == ' ' || *end == '\t')
		end++;
	if (end == value || *end || errno || !isfinite(v) || v < 0)
		return -1;
	if (fmt == PROVIDER_RESET_EPOCH)
		return v > now_wall ? v - now_wall : 0;
	return v;
}

static long header_long(const struct http_response *resp, const char *name)
{
	const char *v = name ? http_response_header(resp, name) : NULL;
	if (!v)
		return -1;
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	return end == v || errno || n < 0 ? -1 : n;
}

/* The descriptor's rate headers into the shared buckets. A rate-limit
 * answer without Retry-After but with the convention's Reset waits until
 * that Reset (Cloudinary's 420 with an HTTP date): a wait, not a backoff. */
static void read_rate_headers(struct provider *p, const struct http_request *req,
			      struct http_response *resp, enum http_class cls)
{
	const struct provider_rate_headers *rh = &p->desc->rate;
	if (!rh->remaining)
		return;
	long remaining = header_long(resp, rh->remaining);
	const char *reset_v = rh->reset ? http_response_header(resp, rh->reset) : NULL;
	double reset_in = provider_parse_reset(reset_v, rh->reset_format, clock_wall());
	if (rh->adopt_limit && p->desc->map) {
		long limit = header_long(resp, rh->limit);
		const struct rl_bucket *b = NULL;
		int n = p->desc->map(p, req->bucket, &b);
		/* The map's arrays are the provider's own: the server's plan
		 * replaces the configured window for the rest of the run. */
		for (int i = 0; limit > 0 && i < n; i++)
			if (b[i].limit > 0 && b[i].limit != limit)
				((struct rl_bucket *)&b[i])->limit = limit;
	}
	if (remaining >= 0 && p->limiter)
		limiter_note_remaining(p->limiter, req, remaining, reset_in);
	if (cls == HTTP_CLASS_RATE_LIMITED && resp->retry_after_s < 0 && resp->wait_s < 0 &&
	    reset_in >= 0)
		resp->wait_s = reset_in;
}

static enum http_class p_classify(void *ctx, const struct http_request *req,
				  struct http_response *resp, enum http_class dflt)
{
	struct provider *p = ctx;
	enum http_class cls = p->desc->classify ? p->desc->classify(p, req, resp, dflt) : dflt;
	read_rate_headers(p, req, resp, cls);
	return cls;
}

static void p_on_rate_limited(void *ctx, const struct http_request *req,
			      const struct http_response *resp, double seconds)
{
	struct provider *p = ctx;
	if (p->desc->on_rate_limited)
		p->desc->on_rate_limited(p, req, resp, seconds);
	else {
		log_warn("rate limited by the provider", LF_S("provider", p->desc->name),
			 LF_S("bucket", req->bucket ? req->bucket : "-"), LF_F("wait_s", seconds));
		if (p->limiter)
			limiter_on_rate_limited(p->limiter, req, resp, seconds);
	}
}

struct http_hooks provider_hooks(struct provider *p, struct limiter *l)
{
	p->limiter = l;
	if (l)
		l->unknown_wait_is_window = p->desc->unknown_wait_is_window;
	struct http_hooks h = { 0 };
	h.before_attempt = p_before_attempt;
	h.on_wake = p_on_wake;
	h.before_send = p_before_send;
	h.classify = p_classify;
	h.on_rate_limited = p_on_rate_limited;
	h.ctx = p;
	return h;
}

/* --------------------------------------------------------------- request */

const char *provider_result_name(enum provider_result r)
{
	switch (r) {
	case PROVIDER_OK: return "ok";
	case PROVIDER_NOT_FOUND: return "not_found";
	case PROVIDER_STOP_BUCKET: return "stop_bucket";
	case PROVIDER_BAD_CREDENTIALS: return "bad_credentials";
	case PROVIDER_STOPPED: return "stopped";
	case PROVIDER_FAILED: return "failed";
	case PROVIDER_CUT_OFF: return "cut_off";
	case PROVIDER_CONFIG: return "config";
	}
	return "?";
}

void provider_reply_release(struct provider_reply *r)
{
	json_decref(r->json);
	r->json = NULL;
}

/* What one built request owns. */
struct built {
	char *url;
	char header_buf[3][512];
	const char *headers[4];
	struct http_request req;
};

/* The call as an http request: URL (with the pager's position), auth. */
static int build(struct provider *p, const struct provider_call *c,
		 const struct provider_pager *pg, struct built *b, char *err, size_t errlen)
{
	const struct provider_desc *d = p->desc;
	memset(b, 0, sizeof(*b));
	/* Auth first, then the caller's, then the page's position. */
	size_t np = 0;
	for (const char *const *kv = c->params; kv && kv[0]; kv += 2)
		np += 2;
	const char **params = xcalloc(np + 5, sizeof(char *));
	size_t k = 0;
	if (d->auth == PROVIDER_AUTH_QUERY) {
		params[k++] = d->auth_name;
		params[k++] = p->secret ? p->secret : "";
	}
	char offset[32];
	bool by_url = c->url || (pg && pg->style == PROVIDER_PAGING_LINKS && pg->next_url);
	if (!by_url) {
		for (size_t i = 0; i < np; i++)
			params[k++] = c->params[i];
		if (pg && pg->style == PROVIDER_PAGING_OFFSET && pg->pages) {
			snprintf(offset, sizeof(offset), "%ld", pg->offset);
			params[k++] = pg->offset_param;
			params[k++] = offset;
		} else if (pg && pg->style == PROVIDER_PAGING_CURSOR && pg->cursor) {
			params[k++] = pg->cursor_param;
			params[k++] = pg->cursor;
		}
	}
	if (by_url) {
		/* The next page's link, once there is one; else the call's. */
		const char *url = pg && pg->next_url ? pg->next_url : c->url;
		/* A link from the server is followed only to the provider:
		 * elsewhere the credentials would go with it. */
		if (!http_same_origin(url, p->base_url)) {
			free(params);
			snprintf(err, errlen, "%s: refusing to follow a link to another host",
				 c->label ? c->label : d->name);
			return -1;
		}
		b->url = http_url_build(url, NULL, params, NULL);
	} else {
		b->url = http_url_build(p->base_url, c->segments, params, c->query);
	}
	free(params);
	if (!b->url) {
		snprintf(err, errlen, "%s: cannot build the request URL", d->name);
		return -1;
	}
	size_t nh = 0;
	if (d->auth == PROVIDER_AUTH_HEADER) {
		snprintf(b->header_buf[0], sizeof(b->header_buf[0]), "%s: %s", d->auth_name,
			 p->secret ? p->secret : "");
		b->headers[nh++] = b->header_buf[0];
	}
	if (p->user_agent) {
		snprintf(b->header_buf[1], sizeof(b->header_buf[1]), "User-Agent: %s", p->user_agent);
		b->headers[nh++] = b->header_buf[1];
	}
	if (c->body && c->content_type) {
		snprintf(b->header_buf[2], sizeof(b->header_buf[2]), "Content-Type: %s",
			 c->content_type);
		b->headers[nh++] = b->header_buf[2];
	}
	b->req = (struct http_request){
		.method = c->method, .url = b->url, .headers = nh ? b->headers : NULL,
		.body = c->body, .body_len = c->body ? strlen(c->body) : 0,
		.userpwd = d->auth == PROVIDER_AUTH_BASIC ? p->secret : NULL,
		.bucket = c->bucket, .label = c->label,
	};
	return 0;
}

enum provider_result provider_interpret_default(struct provider *p, const struct provider_call *call,
						const struct http_response *resp, const char *text,
						size_t len, json_t **json, char *err, size_t errlen)
{
	(void)call;
	json_error_t jerr;
	*json = json_loadb(text, len, 0, &jerr);
	if (resp->class == HTTP_CLASS_FATAL || resp->status == 401 || resp->status == 403) {
		snprintf(err, errlen, "%s rejected the credentials (HTTP %ld): check %s", p->desc->name,
			 resp->status, p->desc->secret_var ? p->desc->secret_var : "its configuration");
		return PROVIDER_BAD_CREDENTIALS;
	}
	if (resp->status == 404)
		return PROVIDER_NOT_FOUND;
	if (resp->status < 200 || resp->status > 299) {
		snprintf(err, errlen, "HTTP %ld", resp->status);
		return PROVIDER_FAILED;
	}
	if (!*json) {
		http_response_json(resp, json, err, errlen); /* its words for what came */
		json_decref(*json);
		*json = NULL;
		return PROVIDER_FAILED;
	}
	return PROVIDER_OK;
}

/* A finished http request into the common result. */
static enum provider_result finish(struct provider *p, const struct provider_call *c, int rc,
				   const struct http_response *resp, struct provider_reply *out)
{
	out->status = resp->status;
	out->signal = resp->signal;
	out->refusal = resp->refusal;
	out->rate_limited = resp->rate_limited;
	out->retry_in_s = resp->retry_in_s;
	out->attempts = resp->attempts;
	if (rc == 0) {
		size_t len;
		int replaced;
		char *text = json_text_sanitize(resp->body ? resp->body : "", resp->body_len, &len,
						&replaced);
		if (replaced)
			log_warn("replaced invalid text in a response", LF_S("provider", p->desc->name),
				 LF_I("replaced", replaced));
		char err[512] = "";
		out->result = (p->desc->interpret ? p->desc->interpret : provider_interpret_default)(
			p, c, resp, text, len, &out->json, err, sizeof(err));
		free(text);
		if (out->result != PROVIDER_OK) {
			char *safe = redact_string(err);
			snprintf(out->error, sizeof(out->error), "%s", safe);
			free(safe);
		}
		return out->result;
	}
	snprintf(out->error, sizeof(out->error), "%s", resp->error);
	if (resp->outcome == HTTP_STOPPED || resp->refusal == HTTP_REFUSED_STOPPED)
		out->result = PROVIDER_STOPPED;
	else if (resp->refusal == HTTP_REFUSED_LIMIT) {
		p->budget_spent = true;
		/* An attempt went out and its retry was refused: the request
		 * never got its answer. */
		out->result = resp->attempts > 0 ? PROVIDER_CUT_OFF : PROVIDER_STOP_BUCKET;
	} else if (resp->outcome == HTTP_DENIED || resp->outcome == HTTP_RATE_LIMITED)
		out->result = PROVIDER_STOP_BUCKET;
	else
		out->result = resp->config_error ? PROVIDER_CONFIG : PROVIDER_FAILED;
	return out->result;
}

static void reply_init(struct provider_reply *out)
{
	memset(out, 0, sizeof(*out));
	out->retry_in_s = -1;
}

static enum provider_result send_one(struct provider *p, const struct provider_call *c,
				     const struct provider_pager *pg, struct provider_reply *out)
{
	reply_init(out);
	if (deadline_should_stop()) {
		snprintf(out->error, sizeof(out->error), "stopping: %s",
			 deadline_reason_name(deadline_reason()));
		return out->result = PROVIDER_STOPPED;
	}
	struct built b;
	if (build(p, c, pg, &b, out->error, sizeof(out->error)))
		return out->result = PROVIDER_FAILED;
	struct http_response resp;
	int rc = http_send(p->http, &b.req, &resp);
	free(b.url);
	finish(p, c, rc, &resp, out);
	http_response_release(&resp);
	return out->result;
}

enum provider_result provider_request(struct provider *p, const struct provider_call *call,
				      struct provider_reply *out)
{
	return send_one(p, call, NULL, out);
}

/* ---------------------------------------------------------------- paging */

void provider_pager_init(struct provider_pager *pg, enum provider_paging style, const char *items)
{
	memset(pg, 0, sizeof(*pg));
	pg->style = style;
	pg->items = items;
	pg->offset_param = "offset";
	pg->cursor_param = "next_cursor";
	pg->total_key = "number_of_total_results";
	pg->total = -1;
}

void provider_pager_release(struct provider_pager *pg)
{
	free(pg->cursor);
	free(pg->next_url);
	pg->cursor = pg->next_url = NULL;
}

int provider_pager_advance(struct provider_pager *pg, json_t *root, const char *base_url,
			   json_t **items, char *err, size_t errlen)
{
	*items = json_object_get(root, pg->items);
	if (!json_is_array(*items)) {
		snprintf(err, errlen, "malformed page: no '%s' list", pg->items);
		return -1;
	}
	size_t got = json_array_size(*items);
	pg->pages++;
	switch (pg->style) {
	case PROVIDER_PAGING_OFFSET: {
		json_t *total = json_object_get(root, pg->total_key);
		if (!json_is_integer(total)) {
			snprintf(err, errlen, "malformed page: no integer '%s'", pg->total_key);
			return -1;
		}
		pg->total = (long)json_integer_value(total);
		pg->offset += (long)got;
		pg->done = got == 0 || pg->offset >= pg->total;
		return 0;
	}
	case PROVIDER_PAGING_CURSOR: {
		const char *next = json_string_value(json_object_get(root, pg->cursor_param));
		free(pg->cursor);
		pg->cursor = next && *next ? xstrdup(next) : NULL;
		pg->done = !pg->cursor;
		return 0;
	}
	case PROVIDER_PAGING_LINKS: {
		/* links.next may be {}, null or absent on the last page. */
		json_t *next = json_object_get(json_object_get(root, "links"), "next");
		const char *href = json_string_value(json_object_get(next, "href"));
		free(pg->next_url);
		pg->next_url = NULL;
		pg->done = !href || !*href;
		if (pg->done)
			return 0;
		if (!http_same_origin(href, base_url)) {
			pg->done = true;
			snprintf(err, errlen, "links.next points at another host than the base URL");
			return -1;
		}
		pg->next_url = xstrdup(href);
		return 0;
	}
	}
	return -1;
}

enum provider_result provider_page(struct provider *p, const struct provider_call *call,
				   struct provider_pager *pg, struct provider_reply *out,
				   json_t **items)
{
	*items = NULL;
	if (send_one(p, call, pg, out) != PROVIDER_OK)
		return out->result;
	char err[256];
	if (provider_pager_advance(pg, out->json, p->base_url, items, err, sizeof(err))) {
		snprintf(out->error, sizeof(out->error), "%s: %s", call->label ? call->label : "page", err);
		return out->result = PROVIDER_FAILED;
	}
	return PROVIDER_OK;
}

bool provider_same_origin(const char *url, const char *base)
{
	return http_same_origin(url, base);
}

/* --------------------------------------------------------------- streams */

/* A stream owns a copy of its call. */
struct stream {
	struct provider *p;
	struct provider_pager pg;
	struct provider_call call;
	char **strs; /* every string the copy points to, NULL-terminated */
	size_t n_strs;
	const char **segments, **params;
	provider_page_fn fn;
	void *arg;
};

static const char *keep(struct stream *s, const char *v)
{
	if (!v)
		return NULL;
	s->strs = xrealloc(s->strs, (s->n_strs + 2) * sizeof(char *));
	s->strs[s->n_strs] = xstrdup(v);
	s->strs[++s->n_strs] = NULL;
	return s->strs[s->n_strs - 1];
}

static const char **keep_list(struct stream *s, const char *const *list)
{
	if (!list)
		return NULL;
	size_t n = 0;
	while (list[n])
		n++;
	const char **out = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		out[i] = keep(s, list[i]);
	return out;
}

static void stream_free(struct stream *s)
{
	provider_pager_release(&s->pg);
	for (size_t i = 0; i < s->n_strs; i++)
		free(s->strs[i]);
	free(s->strs);
	free(s->segments);
	free(s->params);
	free(s);
}

static void stream_next(struct stream *s, struct http_pool *pool);

static void stream_done(struct http_pool *pool, void *arg, const struct http_request *req,
			struct http_response *resp)
{
	(void)req;
	struct stream *s = arg;
	struct provider_reply r;
	reply_init(&r);
	int rc = resp->outcome == HTTP_DONE ? 0 : -1;
	json_t *items = NULL;
	if (finish(s->p, &s->call, rc, resp, &r) == PROVIDER_OK) {
		char err[256];
		if (provider_pager_advance(&s->pg, r.json, s->p->base_url, &items, err, sizeof(err))) {
			snprintf(r.error, sizeof(r.error), "%s: %s",
				 s->call.label ? s->call.label : "page", err);
			r.result = PROVIDER_FAILED;
			items = NULL;
		}
	}
	int go_on = s->fn(s->arg, &r, items) == 0;
	bool more = go_on && r.result == PROVIDER_OK && !s->pg.done;
	provider_reply_release(&r);
	if (more)
		stream_next(s, pool);
	else
		stream_free(s);
}

static void stream_next(struct stream *s, struct http_pool *pool)
{
	struct built b;
	struct provider_reply r;
	reply_init(&r);
	if (build(s->p, &s->call, &s->pg, &b, r.error, sizeof(r.error))) {
		r.result = PROVIDER_FAILED;
		s->fn(s->arg, &r, NULL);
		stream_free(s);
		return;
	}
	http_pool_add(pool, &b.req, stream_done, s);
	free(b.url);
}

void provider_stream(struct provider *p, struct http_pool *pool, const struct provider_call *call,
		     enum provider_paging style, const char *items, provider_page_fn fn, void *arg)
{
	struct stream *s = xcalloc(1, sizeof(*s));
	s->p = p;
	s->fn = fn;
	s->arg = arg;
	provider_pager_init(&s->pg, style, items);
	s->segments = keep_list(s, call->segments);
	s->params = keep_list(s, call->params);
	s->call = (struct provider_call){
		.method = keep(s, call->method), .segments = s->segments, .params = s->params,
		.query = keep(s, call->query), .url = keep(s, call->url),
		.body = keep(s, call->body), .content_type = keep(s, call->content_type),
		.bucket = keep(s, call->bucket), .label = keep(s, call->label),
	};
	stream_next(s, pool);
}
