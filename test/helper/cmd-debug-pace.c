/*
 * Send paced requests through lib/http and the shared rate limiter. The
 * end-to-end tests and scripts/bench-pace run several of these at once
 * against test/fakes/httpfake.py to prove that together they keep a
 * provider's spacing and window.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "commands.h"
#include "config.h"
#include "deadline.h"
#include "http.h"
#include "limiter.h"
#include "log.h"
#include "options.h"
#include "task.h"

const char usage_debug_pace[] =
	"usage: test-tool debug-pace [--provider P] [--bucket B] [--limit N] [--period D]\n"
	"                            [--spacing D] [--provider-spacing D] [--count N]\n"
	"                            [--max-wait D] [--server-limits] URL\n"
	"\n"
	"Test job: sends --count GET requests (default 10) to URL, each first taking a\n"
	"slot in bucket B of provider P (default debug, default) with a window of N\n"
	"requests per D (--limit 0: none) and --spacing between sends;\n"
	"--provider-spacing adds a provider-wide '*' bucket. Waits up to --max-wait\n"
	"(default 10s) for a slot. --server-limits: read X-RateLimit-Remaining/-Reset\n"
	"into the shared bucket. Prints {\"sent\",\"granted\",\"exhausted\",\"elapsed_s\",\n"
	"\"attempts\"}. Exit 0 when all were sent, 75 when the budget ran out before\n"
	"any, 3 when it ran out midway. Several may run at once (the lock is per process).\n";

struct pace_opts {
	const char *provider, *bucket, *url;
	long limit, count;
	double period, spacing, provider_spacing, max_wait;
	bool server_limits;
};

struct pace_buckets {
	struct rl_bucket b[2];
	int n;
};

static int map_buckets(void *ctx, const char *bucket, const struct rl_bucket **out)
{
	struct pace_buckets *pb = ctx;
	(void)bucket; /* every request of this command is in the one bucket */
	*out = pb->b;
	return pb->n;
}

static void setup_buckets(struct pace_buckets *pb, const struct pace_opts *o)
{
	pb->b[0] = (struct rl_bucket){ o->provider, o->bucket, o->limit, o->period, o->spacing,
					       false };
	pb->n = 1;
	if (o->provider_spacing > 0)
		pb->b[pb->n++] = (struct rl_bucket){ o->provider, "*", 0, 0, o->provider_spacing, false };
}

struct pace_result {
	long sent, failed;
	bool exhausted, stopped;
	char why[512]; /* the refusal that ended the run, as its response said */
};

/* Send until done, the budget closes, or a stop; every response counts as sent. */
static void send_all(struct http_client *http, const struct pace_opts *o, struct pace_result *res)
{
	struct http_request req = { .url = o->url, .bucket = o->bucket, .label = "GET debug-pace" };
	for (long i = 0; i < o->count; i++) {
		if (deadline_should_stop()) {
			res->stopped = true;
			return;
		}
		struct http_response resp;
		int rc = http_send(http, &req, &resp);
		enum http_outcome outcome = resp.outcome;
		bool exhausted = outcome == HTTP_DENIED && resp.refusal == HTTP_REFUSED_BUDGET;
		bool failed = rc && !exhausted && outcome != HTTP_STOPPED &&
			      resp.refusal != HTTP_REFUSED_STOPPED;
		if (failed)
			log_warn("request failed", LF_S("error", resp.error));
		if (rc && !failed && !res->why[0]) {
			/* The limiter's words, without http's "GET …: not sent: ". */
			const char *why = strstr(resp.error, "not sent: ");
			snprintf(res->why, sizeof(res->why), "%s", why ? why + 10 : resp.error);
		}
		http_response_release(&resp);
		if (!rc) {
			res->sent++;
		} else if (exhausted) {
			res->exhausted = true;
			return;
		} else if (!failed) {
			res->stopped = true;
			return;
		} else {
			res->failed++;
		}
	}
}

static enum run_status pace_status(const struct pace_result *r)
{
	if (r->stopped)
		return RUN_INTERRUPTED;
	if (r->failed)
		return r->sent ? RUN_PARTIAL : RUN_FAILED;
	if (r->exhausted)
		return r->sent ? RUN_PARTIAL : RUN_SKIPPED;
	return RUN_SUCCEEDED;
}

static void print_result(const struct pace_result *r, const struct limiter *lim, double elapsed,
			 long long attempts)
{
	printf("{\"sent\":%ld,\"granted\":%lld,\"exhausted\":%s,\"elapsed_s\":%.6f,\"attempts\":%lld}\n",
	       r->sent, lim->granted, r->exhausted ? "true" : "false", elapsed, attempts);
	fflush(stdout);
}

static int fail(struct task *t)
{
	int code = exit_code_for_error();
	task_end(t, RUN_FAILED, error_last());
	return code;
}

static int run_pace(struct task *t, const struct pace_opts *o)
{
	struct pace_buckets pb;
	setup_buckets(&pb, o);
	struct db *rl_db = task_rl_db(t);
	if (!rl_db)
		return fail(t);
	struct limiter lim;
	limiter_init(&lim, rl_db, map_buckets, &pb, o->max_wait);
	/* Stands in for ComicVine: a 420 without Retry-After spends the window. */
	lim.unknown_wait_is_window = true;
	struct http_hooks hooks = limiter_hooks(&lim);
	if (o->server_limits)
		hooks.classify = limiter_classify;
	struct http_client *http = task_http(t, &hooks);
	if (!http)
		return fail(t);

	struct pace_result res = { 0 };
	double start = clock_mono();
	send_all(http, o, &res);
	print_result(&res, &lim, clock_mono() - start, http_client_attempts(http));

	t->run.processed = res.sent + res.failed;
	t->run.succeeded = res.sent;
	t->run.failed = res.failed;
	json_object_set_new(t->run.summary, "granted", json_integer(lim.granted));
	json_object_set_new(t->run.summary, "exhausted", json_boolean(res.exhausted));
	enum run_status status = pace_status(&res);
	const char *why = res.why[0] ? res.why : NULL;
	return exit_code_for_run(task_end(t, status, status == RUN_SUCCEEDED ? NULL : why));
}

static int check_opts(const struct pace_opts *o, int n)
{
	if (n != 1)
		return usage_error(usage_debug_pace, "debug-pace needs exactly one URL");
	if (o->limit > 0 && !(o->period > 0))
		return usage_error(usage_debug_pace, "--limit needs a --period");
	if (config_check_url("URL", o->url))
		return EXIT_USAGE;
	return 0;
}

int cmd_debug_pace(int argc, char **argv, struct global_options *g)
{
	struct pace_opts o = { .provider = "debug", .bucket = "default", .count = 10, .max_wait = 10 };
	const struct opt opts[] = {
		OPT_STRING("provider", &o.provider), OPT_STRING("bucket", &o.bucket),
		OPT_LONG("limit", &o.limit), OPT_DURATION("period", &o.period),
		OPT_DURATION("spacing", &o.spacing), OPT_DURATION("provider-spacing", &o.provider_spacing),
		OPT_LONG("count", &o.count), OPT_DURATION("max-wait", &o.max_wait),
		OPT_FLAG("server-limits", 0, &o.server_limits), OPT_TABLE_END,
	};
	int n = parse_options(argc, argv, opts, g, usage_debug_pace);
	if (n < 0)
		return options_exit_code(n);
	o.url = n >= 1 ? argv[1] : NULL;
	int bad = check_opts(&o, n);
	if (bad)
		return bad;
	deadline_start(g->max_runtime_s);

	/* The job lock is per process: the point is several sharing a bucket. */
	char lock[64];
	snprintf(lock, sizeof(lock), "debug-pace:%ld", (long)getpid());
	struct task t;
	struct task_options to = { .job = "debug-pace", .lock_key = lock, .json = g->json };
	to.args = json_pack("{s:s, s:s, s:I, s:f, s:f, s:I}", "provider", o.provider, "bucket", o.bucket,
			    "limit", (json_int_t)o.limit, "period", o.period, "spacing", o.spacing,
			    "count", (json_int_t)o.count);
	int code;
	if (command_start_task(&t, &to, &code))
		return code;
	return run_pace(&t, &o);
}
