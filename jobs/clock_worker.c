#include "clock_worker.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "cron.h"
#include "db.h"
#include "deadline.h"
#include "log.h"
#include "schedule.h"
#include "schedule_notify.h"
#include "schedule_state.h"
#include "xalloc.h"

static struct clock_hooks hooks;

void clock_set_hooks(const struct clock_hooks *h)
{
	hooks = h ? *h : (struct clock_hooks){ 0 };
}

const char *clock_exe(void)
{
	return hooks.exe ? hooks.exe : "/proc/self/exe";
}

static double rate(void)
{
	return hooks.rate > 0 ? hooks.rate : 1.0;
}

/* ---- signals: flags plus a self-pipe the wait polls ------------------- */

static int wake_pipe[2] = { -1, -1 };
static volatile sig_atomic_t stop_signal;
static struct sigaction prev_term, prev_int;

static void on_signal(int sig)
{
	int saved = errno;
	if (sig == SIGTERM || sig == SIGINT) {
		if (!stop_signal)
			stop_signal = sig;
		/* lib/deadline's handler: database waits see the stop too. */
		const struct sigaction *prev = sig == SIGTERM ? &prev_term : &prev_int;
		if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN)
			prev->sa_handler(sig);
	}
	if (wake_pipe[1] >= 0)
		(void)!write(wake_pipe[1], "", 1);
	errno = saved;
}

static int set_flags(int fd)
{
	return fcntl(fd, F_SETFD, FD_CLOEXEC) || fcntl(fd, F_SETFL, O_NONBLOCK) ? -1 : 0;
}

static int signals_install(void)
{
	if (wake_pipe[0] < 0 &&
	    (pipe(wake_pipe) || set_flags(wake_pipe[0]) || set_flags(wake_pipe[1])))
		return error("cannot create the clock's wake-up pipe: %s", strerror(errno));
	stop_signal = 0;
	deadline_start(0); /* the clock has no time budget; its handlers come first */
	struct sigaction sa = { 0 };
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_NOCLDSTOP; /* no SA_RESTART: a stop interrupts a wait at once */
	sigaction(SIGTERM, &sa, &prev_term);
	sigaction(SIGINT, &sa, &prev_int);
	sigaction(SIGCHLD, &sa, NULL);
	return 0;
}

/* Wait until a signal arrives or `wall_s` seconds pass on the wall clock. */
static void wait_for_event(double wall_s)
{
	double real_s = wall_s / rate();
	int ms = real_s <= 0 ? 0 : real_s > 3600 ? 3600000 : (int)ceil(real_s * 1000);
	struct pollfd p = { .fd = wake_pipe[0], .events = POLLIN };
	if (ms > 0)
		poll(&p, 1, ms);
	char drain[64];
	while (read(wake_pipe[0], drain, sizeof(drain)) > 0)
		;
}

/* ---- the worker --------------------------------------------------------- */

struct child {
	pid_t pid; /* 0: none */
	long long due;
	double started_mono;
};

struct worker {
	const struct schedule *s;
	const struct clock_options *o;
	struct clock_result *res;
	struct db *db;
	struct child *children; /* one per entry: an entry never runs twice at once */
	long long *next_check;  /* per entry: when to look at its slots again */
	int running;
	char who[384];
};

static int connect_db(struct worker *w)
{
	return w->db ? 0 : schedule_db_open(&w->db);
}

/* After a failed statement: a lost connection is reopened on the next pass. */
static void db_trouble(struct worker *w, const char *what, const char *entry)
{
	log_error(what, LF_S("entry", entry), LF_S("error", error_last() ? error_last() : ""));
	if (w->db && db_is_lost(w->db)) {
		db_close(w->db);
		w->db = NULL;
	}
}

static char **child_argv(const struct schedule_entry *e)
{
	char **argv = xcalloc((size_t)e->argc + 2, sizeof(*argv));
	argv[0] = "jobrun";
	for (int i = 0; i < e->argc; i++)
		argv[i + 1] = e->argv[i];
	return argv;
}

/* fork + exec; in the child (single-threaded, so setenv is safe) the entry
 * and slot go into the environment the run reads. */
static pid_t spawn(const struct schedule_entry *e, long long due)
{
	char slot[32];
	schedule_time_text(due, slot, sizeof(slot));
	char **argv = child_argv(e);
	const char *exe = clock_exe();
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGCHLD, SIG_DFL);
		if (setenv("JOBRUN_ENTRY", e->name, 1) == 0 && setenv("JOBRUN_SLOT", slot, 1) == 0)
			execv(exe, argv);
		dprintf(2, "at=error msg=\"cannot start the entry's run\" entry=%s error=\"%s\"\n",
			e->name, strerror(errno));
		_exit(127);
	}
	int saved = errno;
	free(argv);
	if (pid < 0)
		error("cannot start a process for entry '%s': %s", e->name, strerror(saved));
	return pid;
}

static void count_exit(struct clock_result *res, int code)
{
	if (code == 0)
		res->succeeded++;
	else if (code == 3)
		res->partial++;
	else if (code == CLOCK_EXIT_SKIPPED)
		res->skipped++;
	else
		res->failed++;
}

static void slot_ended(struct worker *w, size_t i, int code, const char *reason)
{
	const struct schedule_entry *e = &w->s->entries[i];
	struct child *c = &w->children[i];
	char slot[32];
	schedule_time_text(c->due, slot, sizeof(slot));
	bool skipped = code == CLOCK_EXIT_SKIPPED;
	long long run_id = 0;
	if (skipped && !reason)
		reason = "another instance holds the job's lock";
	count_exit(w->res, code);
	log_emit(code == 0 || skipped ? LOG_INFO : LOG_WARN, "slot finished", LF_S("entry", e->name),
		 LF_S("slot", slot), LF_I("pid", c->pid), LF_I("exit", code),
		 LF_F("duration_s", clock_mono() - c->started_mono), LF_END);
	if ((w->db || !connect_db(w)) &&
	    schedule_slot_ended(w->db, e->name, c->due, skipped ? "skipped" : "finished", code,
				reason, &run_id))
		db_trouble(w, "could not record the slot's end", e->name);
	c->pid = 0;
	w->running--;
}

static void reap(struct worker *w)
{
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (size_t i = 0; i < w->s->n; i++) {
			if (w->children[i].pid != pid)
				continue;
			char why[64] = "";
			int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			if (WIFSIGNALED(st))
				snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(st));
			slot_ended(w, i, code, *why ? why : NULL);
		}
	}
}

static void start_child(struct worker *w, size_t i, long long due)
{
	const struct schedule_entry *e = &w->s->entries[i];
	char slot[32];
	schedule_time_text(due, slot, sizeof(slot));
	double late = clock_wall() - (double)due;
	pid_t pid = spawn(e, due);
	if (pid < 0) {
		long long run_id;
		w->res->failed++;
		log_error("could not start the slot", LF_S("entry", e->name), LF_S("slot", slot),
			  LF_S("error", error_last()));
		if (schedule_slot_ended(w->db, e->name, due, "finished", -1, error_last(), &run_id))
			db_trouble(w, "could not record the slot's end", e->name);
		return;
	}
	w->children[i] = (struct child){ .pid = pid, .due = due, .started_mono = clock_mono() };
	w->running++;
	w->res->started++;
	log_info("slot started", LF_S("entry", e->name), LF_S("slot", slot), LF_I("pid", pid),
		 LF_F("late_s", late));
	if (schedule_slot_started(w->db, e->name, due, pid))
		db_trouble(w, "could not record the slot's start", e->name);
}

static void log_plan(const struct schedule_entry *e, const struct slot_plan *p)
{
	char a[32], b[32];
	if (p->missed.n) {
		schedule_time_text(p->missed.first, a, sizeof(a));
		schedule_time_text(p->missed.last, b, sizeof(b));
		log_warn("slots missed: past the entry's grace", LF_S("entry", e->name),
			 LF_S("first", a), LF_S("last", b), LF_I("slots", p->missed.n));
	}
	if (p->coalesced.n) {
		schedule_time_text(p->coalesced.first, a, sizeof(a));
		schedule_time_text(p->coalesced.last, b, sizeof(b));
		log_info("slots coalesced into the latest", LF_S("entry", e->name), LF_S("first", a),
			 LF_S("last", b), LF_I("slots", p->coalesced.n));
	}
	if (p->paused.n) {
		schedule_time_text(p->paused.last, b, sizeof(b));
		log_info("entry paused: slot not run", LF_S("entry", e->name), LF_S("slot", b),
			 LF_I("slots", p->paused.n));
	}
}

/* Claim what came due for entry i and start it; false on a database error. */
static bool pass_entry(struct worker *w, size_t i, long long now)
{
	const struct schedule_entry *e = &w->s->entries[i];
	bool busy = w->children[i].pid > 0;
	struct slot_claim cl;
	if (schedule_claim(w->db, e, now, busy, w->who, &cl)) {
		db_trouble(w, "could not claim the entry's slots", e->name);
		return false;
	}
	log_plan(e, &cl.plan);
	w->res->missed += (int)cl.plan.missed.n;
	if (cl.owned && busy) {
		char slot[32];
		schedule_time_text(cl.plan.due, slot, sizeof(slot));
		w->res->skipped++;
		log_warn("slot skipped: the entry's previous run is still running",
			 LF_S("entry", e->name), LF_S("slot", slot), LF_I("pid", w->children[i].pid));
	} else if (cl.owned) {
		start_child(w, i, cl.plan.due);
	}
	return true;
}

static void pass(struct worker *w, long long now)
{
	for (size_t i = 0; i < w->s->n && !stop_signal; i++) {
		if (w->next_check[i] > now)
			continue;
		if (!w->db && connect_db(w)) {
			log_error("cannot reach the database; trying again at the next heartbeat",
				  LF_S("error", error_last() ? error_last() : ""));
			return;
		}
		/* After a failure, look again at the heartbeat rather than at
		 * the next fire time: the slot is still owed. */
		w->next_check[i] = pass_entry(w, i, now) ? cron_next(w->s->entries[i].expr, now)
							 : now + (long long)CLOCK_HEARTBEAT_S;
		if (w->next_check[i] < 0)
			w->next_check[i] = LLONG_MAX;
	}
	/* After the children started: an alert never delays a slot. */
	if (w->o->notify && w->db && !stop_signal &&
	    schedule_notify_pass(w->s, w->db, w->o->notify, now) < 0)
		db_trouble(w, "could not read the entries' states for notifications", "*");
}

static double next_wake(const struct worker *w, double now)
{
	double at = now + CLOCK_HEARTBEAT_S;
	for (size_t i = 0; i < w->s->n; i++)
		if ((double)w->next_check[i] < at)
			at = (double)w->next_check[i];
	return at;
}

/* Stop: forward the signal, give the children stop_timeout_s (real time:
 * Heroku's SIGKILL does not care how fast a test clock runs), then kill the
 * rest. */
static void stop_children(struct worker *w)
{
	if (!w->running)
		return;
	int sig = stop_signal ? stop_signal : SIGTERM;
	log_info("stopping: signal forwarded to the running entries", LF_I("children", w->running),
		 LF_S("signal", sig == SIGINT ? "SIGINT" : "SIGTERM"));
	for (size_t i = 0; i < w->s->n; i++)
		if (w->children[i].pid > 0)
			kill(w->children[i].pid, sig);
	double until = clock_mono() + w->o->stop_timeout_s;
	while (w->running && clock_mono() < until) {
		wait_for_event((until - clock_mono()) * rate());
		reap(w);
	}
	for (size_t i = 0; i < w->s->n; i++) {
		struct child *c = &w->children[i];
		if (c->pid <= 0)
			continue;
		log_warn("entry did not stop in time: killed", LF_S("entry", w->s->entries[i].name),
			 LF_I("pid", c->pid));
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
		slot_ended(w, i, 128 + SIGKILL, "killed: it did not stop within the stop timeout");
	}
}

static void loop(struct worker *w)
{
	/* A tick is one pass: what comes due while its children run is the
	 * next tick's (or a clock's). */
	for (bool first = true;; first = false) {
		reap(w);
		if (stop_signal)
			break;
		if (first || !w->o->once)
			pass(w, (long long)floor(clock_wall()));
		if (w->o->once) {
			if (!w->running)
				return;
			wait_for_event(CLOCK_HEARTBEAT_S);
			continue;
		}
		double now = clock_wall();
		double wake = next_wake(w, now);
		if (wake > now)
			wait_for_event(wake - now);
	}
	stop_children(w);
}

static bool selected(const struct clock_options *o, const char *name)
{
	for (int i = 0; i < o->n_only; i++)
		if (!strcmp(o->only[i], name))
			return true;
	return !o->n_only;
}

int clock_run(const struct schedule *s, const struct clock_options *o, struct clock_result *out)
{
	memset(out, 0, sizeof(*out));
	struct worker w = { .s = s, .o = o, .res = out };
	schedule_who(o->what, w.who, sizeof(w.who));
	log_set_context(o->what, 0);
	if (signals_install() || connect_db(&w))
		return -1;
	w.children = xcalloc(s->n ? s->n : 1, sizeof(*w.children));
	w.next_check = xcalloc(s->n ? s->n : 1, sizeof(*w.next_check));
	for (size_t i = 0; i < s->n; i++)
		if (!selected(o, s->entries[i].name))
			w.next_check[i] = LLONG_MAX; /* never looked at, never claimed */
	/* Every entry is looked at on the first pass: what came due while no
	 * clock ran is caught up, or recorded missed, from the slots table. */
	log_info(o->once ? "tick" : "clock started", LF_I("entries", (long long)s->n),
		 LF_S("who", w.who));
	loop(&w);
	out->stop_signal = stop_signal;
	free(w.children);
	free(w.next_check);
	db_close(w.db);
	return 0;
}

int clock_exec_entry(const struct schedule_entry *e)
{
	char **argv = child_argv(e);
	fflush(stdout);
	fflush(stderr);
	if (setenv("JOBRUN_ENTRY", e->name, 1) == 0)
		execv(clock_exe(), argv);
	int saved = errno;
	free(argv);
	return error("cannot run entry '%s': %s", e->name, strerror(saved));
}
