/*
 * Internals shared by http.c (client, one request at a time) and
 * http_multi.c (http_send_all). Not for use outside lib/http*.c.
 *
 * A struct xfer is one logical request in progress: its retry state, the
 * curl header list, and the response being collected for the current
 * attempt. Both drivers run the same steps:
 *
 *	xfer_init → { xfer_begin → perform on an easy handle → xfer_end → wait }* → xfer_release
 *
 * so retries, hooks, counting and error messages behave identically whether
 * a request goes alone or with others.
 */
#ifndef JOBRUN_HTTP_INTERNAL_H
#define JOBRUN_HTTP_INTERNAL_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "http.h"

struct http_client {
	struct http_config cfg;
	char *user_agent;         /* owned copy: cfg.user_agent may be borrowed */
	struct http_hooks hooks;
	CURLSH *share;            /* connections, DNS and TLS sessions for every handle */
	CURL *easy;               /* http_send()'s handle, reused for keep-alive */
	long long attempts;
	uint64_t rng;             /* xorshift64* state for backoff jitter */
};

/* What to do after an attempt. */
enum xfer_step {
	XFER_FINAL, /* resp->outcome is set: stop */
	XFER_WAIT,  /* wait *wait seconds, then attempt again */
};

/* xfer_begin()'s answers. */
enum xfer_start {
	XFER_GO,     /* perform the easy handle now */
	XFER_PARKED, /* a slot is reserved for x->wake_at: call xfer_begin again then */
	XFER_DONE,   /* final (stopped or denied): resp is set */
};

struct xfer {
	struct http_client *c;
	const struct http_request *req;
	struct http_response *resp;
	struct curl_slist *headers;
	struct buf body;
	struct http_header *hdrs; /* the current attempt's response headers */
	size_t n_hdrs;
	size_t cap_hdrs;
	size_t header_bytes;        /* the current response's header bytes so far */
	bool headers_too_large;     /* on_header refused: over the count or size cap */
	bool too_large;
	double attempt_retry_after; /* this attempt's Retry-After, -1 when none */
	/* Why a timeout would end this attempt, decided when it was set up:
	 * a timeout clipped to the deadline is the deadline (HTTP_STOPPED), by
	 * cause, whatever the clock reads when curl reports it. */
	bool timeout_is_deadline;   /* the whole-attempt timeout is the time left */
	bool connect_is_deadline;   /* so is the connect timeout */
	double started_at;          /* clock_mono() when the attempt was set up */
	double timeout_s;           /* its whole-attempt timeout as given to curl */
	double granted_at;          /* clock_mono() of before_attempt's grant, for the
				     * attempt's first send only; -1 once used or when none */
	int sends;                  /* requests this attempt put on the wire */
	bool refused;               /* a hook refused a send: grant says why */
	struct http_grant grant;    /* this request's latest hook answer */
	bool holds_grant;           /* before_attempt reserved a slot for wake_at that the
				     * next xfer_begin uses instead of asking again */
	double wake_at;             /* monotonic time of the next attempt or reserved slot */
	char label[160];            /* "GET /volumes/": no host, no query */
	char last[320];             /* how the last attempt ended: "HTTP 503", "timed out (curl: …)" */
	char curl_err[CURL_ERROR_SIZE];
};

void xfer_init(struct xfer *x, struct http_client *c, const struct http_request *req,
	       struct http_response *resp);
/* Run the before_attempt hook (unless a grant is held) and prepare `easy`.
 * XFER_PARKED: the hook reserved a slot ahead; nothing is prepared, call
 * again at x->wake_at. Every send of the attempt then passes the
 * before_send hook from libcurl's pre-request callback. */
enum xfer_start xfer_begin(struct xfer *x, CURL *easy);
/* Sleep until the monotonic time `target` (the last 2 ms spun, so a slot is
 * not missed by a late wake-up); -1 when a stop cut it short. */
int xfer_wait_until(double target);
/* How long a driver may block before `target` and still spin to it. */
#define XFER_SPIN_S 0.002
/* Judge a finished attempt; XFER_WAIT sets *wait (seconds). */
enum xfer_step xfer_end(struct xfer *x, CURL *easy, CURLcode rc, double *wait);
/* A wait between attempts was cut short by a stop request. */
void xfer_stop(struct xfer *x);
void xfer_release(struct xfer *x);

CURL *http_easy_new(void);

#endif
