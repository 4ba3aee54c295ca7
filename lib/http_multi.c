/*
 * http_pool: requests over libcurl multi on this one thread, each driven
 * through the same xfer steps as http_send(). Requests may be added at any
 * time, also by a completion callback (the next page of a listing).
 *
 * A transfer whose hook reserved a slot ahead is parked until that slot: it
 * holds one of the `parallel` places (so a pool never reserves more than
 * `parallel` slots ahead) but no connection, and the others keep moving. A
 * request waiting to retry holds no place. http_send_all() is a thin user.
 */
#include "http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "deadline.h"
#include "http_internal.h"
#include "xalloc.h"

enum item_state {
	QUEUED,  /* not started, or waiting to retry until wake_at */
	PARKED,  /* holds a reserved slot for wake_at */
	RUNNING, /* on the multi handle */
	DONE,
};

/* One request and its own copy of everything it points to. */
struct item {
	struct xfer x;
	struct http_request req;
	struct http_response resp;
	char *url, *method, *body, *userpwd, *bucket, *label;
	char **headers;
	http_pool_done_fn done;
	void *arg;
	enum item_state state;
};

struct http_pool {
	struct http_client *c;
	CURLM *multi;
	struct item **items;
	size_t n, cap;
	CURL **idle;      /* easy handles not in use, reused for keep-alive */
	size_t n_idle, cap_idle;
	int parallel;
	int running;
	int parked;
	int failed;
};

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void copy_request(struct item *it, const struct http_request *src)
{
	it->url = dup_or_null(src->url);
	it->method = dup_or_null(src->method);
	it->userpwd = dup_or_null(src->userpwd);
	it->bucket = dup_or_null(src->bucket);
	it->label = dup_or_null(src->label);
	if (src->body) {
		it->body = xmalloc(src->body_len + 1);
		memcpy(it->body, src->body, src->body_len);
		it->body[src->body_len] = '\0';
	}
	size_t nh = 0;
	while (src->headers && src->headers[nh])
		nh++;
	if (src->headers) {
		it->headers = xcalloc(nh + 1, sizeof(char *));
		for (size_t i = 0; i < nh; i++)
			it->headers[i] = xstrdup(src->headers[i]);
	}
	it->req = (struct http_request){
		.method = it->method, .url = it->url, .headers = (const char *const *)it->headers,
		.body = it->body, .body_len = src->body_len, .userpwd = it->userpwd,
		.bucket = it->bucket, .label = it->label,
	};
}

static void item_free(struct item *it)
{
	for (char **h = it->headers; h && *h; h++)
		free(*h);
	free(it->headers);
	free(it->url);
	free(it->method);
	free(it->body);
	free(it->userpwd);
	free(it->bucket);
	free(it->label);
	free(it);
}

struct http_pool *http_pool_new(struct http_client *c, int parallel)
{
	struct http_pool *p = xcalloc(1, sizeof(*p));
	p->c = c;
	p->parallel = parallel < 1 ? 1 : parallel;
	p->multi = curl_multi_init();
	if (!p->multi) {
		fprintf(stderr, "jobrun: curl_multi_init failed (out of memory)\n");
		abort();
	}
	curl_multi_setopt(p->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)p->parallel);
	return p;
}

void http_pool_add(struct http_pool *p, const struct http_request *req, http_pool_done_fn done,
		   void *arg)
{
	struct item *it = xcalloc(1, sizeof(*it));
	copy_request(it, req);
	it->done = done;
	it->arg = arg;
	it->state = QUEUED;
	xfer_init(&it->x, p->c, &it->req, &it->resp);
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 16;
		p->items = xrealloc(p->items, p->cap * sizeof(*p->items));
	}
	p->items[p->n++] = it;
}

int http_pool_active(const struct http_pool *p)
{
	return p->running + p->parked;
}

static CURL *take_handle(struct http_pool *p)
{
	return p->n_idle ? p->idle[--p->n_idle] : http_easy_new();
}

static void give_handle(struct http_pool *p, CURL *easy)
{
	if (p->n_idle == p->cap_idle) {
		p->cap_idle = p->cap_idle ? 2 * p->cap_idle : 4;
		p->idle = xrealloc(p->idle, p->cap_idle * sizeof(*p->idle));
	}
	p->idle[p->n_idle++] = easy;
}

/* The callback runs here, between transfers; it may add requests. */
static void finish(struct http_pool *p, struct item *it)
{
	if (it->state == PARKED)
		p->parked--;
	it->state = DONE;
	p->failed += it->resp.outcome != HTTP_DONE;
	xfer_release(&it->x);
	if (it->done)
		it->done(p, it->arg, &it->req, &it->resp);
	http_response_release(&it->resp);
}

/* Drop finished items (callbacks may have appended new ones meanwhile). */
static void compact(struct http_pool *p)
{
	size_t k = 0;
	for (size_t i = 0; i < p->n; i++) {
		if (p->items[i]->state == DONE)
			item_free(p->items[i]);
		else
			p->items[k++] = p->items[i];
	}
	p->n = k;
}

/* A stop request ends every request not on the wire; running ones are
 * aborted by the progress callback and finish through their messages. */
static void stop_waiting(struct http_pool *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct item *it = p->items[i];
		if (it->state == QUEUED || it->state == PARKED) {
			xfer_stop(&it->x);
			finish(p, it);
		}
	}
}

static void try_start(struct http_pool *p, struct item *it)
{
	CURL *easy = take_handle(p);
	bool was_parked = it->state == PARKED;
	enum xfer_start s = xfer_begin(&it->x, easy);
	if (s != XFER_GO)
		give_handle(p, easy);
	if (was_parked) {
		p->parked--;
		it->state = QUEUED;
	}
	switch (s) {
	case XFER_GO:
		curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)it);
		curl_multi_add_handle(p->multi, easy);
		it->state = RUNNING;
		p->running++;
		break;
	case XFER_PARKED:
		it->state = PARKED;
		p->parked++;
		break;
	case XFER_DONE:
		finish(p, it);
		break;
	}
}

/* Parked transfers whose slot has come go first (their place is theirs),
 * then new or retrying ones while places are free. */
static void start_ready(struct http_pool *p)
{
	double now = clock_mono();
	for (size_t i = 0; i < p->n; i++) {
		struct item *it = p->items[i];
		if (it->state == PARKED && it->x.wake_at <= now)
			try_start(p, it);
	}
	for (size_t i = 0; i < p->n && http_pool_active(p) < p->parallel; i++) {
		struct item *it = p->items[i];
		if (it->state == QUEUED && it->x.wake_at <= now)
			try_start(p, it);
	}
}

static void collect_done(struct http_pool *p)
{
	CURLMsg *msg;
	int queued;
	while ((msg = curl_multi_info_read(p->multi, &queued))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		/* msg is invalid once the handle is removed: copy first. */
		CURL *easy = msg->easy_handle;
		CURLcode rc = msg->data.result;
		struct item *it = NULL;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&it);
		curl_multi_remove_handle(p->multi, easy);
		p->running--;
		double wait;
		enum xfer_step step = xfer_end(&it->x, easy, rc, &wait);
		/* The handle must not keep pointers into the xfer. */
		curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, NULL);
		curl_easy_setopt(easy, CURLOPT_HTTPHEADER, NULL);
		give_handle(p, easy);
		if (step == XFER_FINAL) {
			finish(p, it);
		} else {
			it->state = QUEUED;
			it->x.wake_at = clock_mono() + wait;
		}
	}
}

/* Monotonic time of the earliest transfer that could start: a parked one's
 * slot always, a queued one only when a place is free (otherwise it could
 * not start anyway: no spinning). At most 1 s ahead, so stop requests are
 * noticed even when curl has nothing to say. */
static double next_wake(const struct http_pool *p)
{
	double next = clock_mono() + 1;
	bool room = http_pool_active(p) < p->parallel;
	for (size_t i = 0; i < p->n; i++) {
		const struct item *it = p->items[i];
		if ((it->state == PARKED || (it->state == QUEUED && room)) && it->x.wake_at < next)
			next = it->x.wake_at;
	}
	return next;
}

static bool any_live(const struct http_pool *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->items[i]->state != DONE)
			return true;
	return false;
}

int http_pool_run(struct http_pool *p)
{
	p->failed = 0;
	for (;;) {
		if (deadline_should_stop())
			stop_waiting(p);
		start_ready(p);
		compact(p);
		if (!any_live(p))
			break;
		if (!p->running) {
			/* Everyone is parked or between attempts: sleep to the
			 * earliest, spinning its last moment so a slot is kept. */
			xfer_wait_until(next_wake(p));
			continue;
		}
		int still;
		curl_multi_perform(p->multi, &still);
		collect_done(p);
		if (p->running) {
			/* After collect_done: a callback may have added a request
			 * (the next page) that can start now, or freed a place. A
			 * wake time from before would leave it waiting for
			 * whatever curl says next (a whole answer's latency). */
			double next = next_wake(p);
			double ms = (next - clock_mono() - XFER_SPIN_S) * 1000;
			curl_multi_poll(p->multi, NULL, 0, ms > 0 ? (int)ms : 0, NULL);
		}
	}
	return p->failed;
}

void http_pool_free(struct http_pool *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		xfer_release(&p->items[i]->x);
		http_response_release(&p->items[i]->resp);
		item_free(p->items[i]);
	}
	for (size_t i = 0; i < p->n_idle; i++)
		curl_easy_cleanup(p->idle[i]);
	curl_multi_cleanup(p->multi);
	free(p->idle);
	free(p->items);
	free(p);
}

/* ------------------------------------------------------------ send_all */

struct send_all_slot {
	struct http_response *out;
};

static void keep_response(struct http_pool *pool, void *arg, const struct http_request *req,
			  struct http_response *resp)
{
	(void)pool, (void)req;
	struct send_all_slot *s = arg;
	*s->out = *resp;
	memset(resp, 0, sizeof(*resp)); /* moved: the pool releases nothing */
}

int http_send_all(struct http_client *c, const struct http_request *reqs, size_t n,
		  struct http_response *resps, int parallel)
{
	if (!n)
		return 0;
	if (parallel > 0 && (size_t)parallel > n)
		parallel = (int)n;
	struct http_pool *pool = http_pool_new(c, parallel);
	struct send_all_slot *slots = xcalloc(n, sizeof(*slots));
	for (size_t i = 0; i < n; i++) {
		slots[i].out = &resps[i];
		http_pool_add(pool, &reqs[i], keep_response, &slots[i]);
	}
	int failed = http_pool_run(pool);
	http_pool_free(pool);
	free(slots);
	return failed;
}
