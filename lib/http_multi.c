/*
 * http_send_all(): several requests over libcurl multi, at most `parallel`
 * in flight, each driven through the same xfer steps as http_send(). A
 * request waiting to retry does not hold a slot: others run meanwhile.
 */
#include "http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "deadline.h"
#include "http_internal.h"
#include "xalloc.h"

enum slot_state { WAITING, RUNNING, DONE };

struct multi_run {
	struct http_client *c;
	CURLM *multi;
	struct xfer *xfers;
	enum slot_state *state;
	size_t n;
	size_t left;     /* not DONE */
	CURL **pool;     /* idle easy handles, reused for keep-alive */
	int n_pool;
	int running;
	int parallel;
};

static CURL *take_handle(struct multi_run *m)
{
	return m->n_pool ? m->pool[--m->n_pool] : http_easy_new();
}

static void give_handle(struct multi_run *m, CURL *easy)
{
	m->pool[m->n_pool++] = easy;
}

static void finish(struct multi_run *m, size_t i)
{
	m->state[i] = DONE;
	m->left--;
}

/* A stop request ends every request still waiting; running ones are
 * aborted by the progress callback and finish through their messages. */
static void stop_waiting(struct multi_run *m)
{
	for (size_t i = 0; i < m->n; i++) {
		if (m->state[i] == WAITING) {
			xfer_stop(&m->xfers[i]);
			finish(m, i);
		}
	}
}

static void start_ready(struct multi_run *m)
{
	double now = clock_mono();
	for (size_t i = 0; i < m->n && m->running < m->parallel; i++) {
		if (m->state[i] != WAITING || m->xfers[i].wake_at > now)
			continue;
		CURL *easy = take_handle(m);
		if (xfer_begin(&m->xfers[i], easy)) {
			give_handle(m, easy);
			finish(m, i);
			continue;
		}
		curl_multi_add_handle(m->multi, easy);
		m->state[i] = RUNNING;
		m->running++;
	}
}

static void collect_done(struct multi_run *m)
{
	CURLMsg *msg;
	int queued;
	while ((msg = curl_multi_info_read(m->multi, &queued))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		/* msg is invalid once the handle is removed: copy first. */
		CURL *easy = msg->easy_handle;
		CURLcode rc = msg->data.result;
		struct xfer *x = NULL;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
		curl_multi_remove_handle(m->multi, easy);
		m->running--;
		size_t i = (size_t)(x - m->xfers);
		double wait;
		if (xfer_end(x, easy, rc, &wait) == XFER_FINAL) {
			finish(m, i);
		} else {
			m->state[i] = WAITING;
			x->wake_at = clock_mono() + wait;
		}
		give_handle(m, easy);
	}
}

/* Milliseconds until the earliest waiting request may start (at most 1 s,
 * so stop requests are noticed even when curl has nothing to say). */
static int next_wake_ms(struct multi_run *m, double *next_s)
{
	double now = clock_mono(), next = now + 1;
	/* With every slot busy, a due request cannot start anyway: no spinning. */
	for (size_t i = 0; i < m->n && m->running < m->parallel; i++)
		if (m->state[i] == WAITING && m->xfers[i].wake_at < next)
			next = m->xfers[i].wake_at;
	*next_s = next - now > 0 ? next - now : 0;
	return (int)(*next_s * 1000);
}

static void drive(struct multi_run *m)
{
	while (m->left) {
		if (deadline_should_stop())
			stop_waiting(m);
		start_ready(m);
		if (!m->left)
			break;
		double next_s;
		int wake_ms = next_wake_ms(m, &next_s);
		if (!m->running) {
			/* Everyone is between attempts: an interruptible sleep. */
			deadline_sleep(next_s);
			continue;
		}
		int still;
		curl_multi_perform(m->multi, &still);
		collect_done(m);
		if (m->running)
			curl_multi_poll(m->multi, NULL, 0, wake_ms, NULL);
	}
}

int http_send_all(struct http_client *c, const struct http_request *reqs, size_t n,
		  struct http_response *resps, int parallel)
{
	if (!n)
		return 0;
	struct multi_run m = {
		.c = c,
		.multi = curl_multi_init(),
		.xfers = xcalloc(n, sizeof(struct xfer)),
		.state = xcalloc(n, sizeof(enum slot_state)),
		.n = n,
		.left = n,
		.parallel = parallel < 1 ? 1 : parallel,
	};
	if ((size_t)m.parallel > n)
		m.parallel = (int)n;
	m.pool = xcalloc((size_t)m.parallel, sizeof(CURL *));
	if (!m.multi) {
		fprintf(stderr, "jobrun: curl_multi_init failed (out of memory)\n");
		abort();
	}
	curl_multi_setopt(m.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)m.parallel);
	for (size_t i = 0; i < n; i++)
		xfer_init(&m.xfers[i], c, &reqs[i], &resps[i]);

	drive(&m);

	int failed = 0;
	for (size_t i = 0; i < n; i++) {
		failed += resps[i].outcome != HTTP_DONE;
		xfer_release(&m.xfers[i]);
	}
	for (int i = 0; i < m.n_pool; i++)
		curl_easy_cleanup(m.pool[i]);
	curl_multi_cleanup(m.multi);
	free(m.pool);
	free(m.state);
	free(m.xfers);
	return failed;
}
