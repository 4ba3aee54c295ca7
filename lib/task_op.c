/*
 * Operations of a run: named steps with their own status, timings, counts
 * and error, kept in order in the run summary's "operations" array.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "redact.h"
#include "task.h"

static json_t *operations(struct task *t)
{
	json_t *ops = json_object_get(t->run.summary, "operations");
	if (!json_is_array(ops)) {
		ops = json_array();
		json_object_set_new(t->run.summary, "operations", ops);
	}
	return ops;
}

static void utc_stamp(double wall, char *out, size_t len)
{
	time_t secs = (time_t)wall;
	struct tm tm;
	gmtime_r(&secs, &tm);
	int ms = (int)((wall - (double)secs) * 1000);
	char base[32];
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, len, "%s.%03dZ", base, ms < 0 ? 0 : ms > 999 ? 999 : ms);
}

void task_op_begin(struct task *t, struct task_op *op, const char *name)
{
	char started[40];
	memset(op, 0, sizeof(*op));
	op->status = RUN_RUNNING;
	op->started_mono = clock_mono();
	utc_stamp(clock_wall(), started, sizeof(started));
	op->entry = json_pack("{s:s, s:s, s:s}", "name", name, "status",
			      run_status_name(RUN_RUNNING), "started_at", started);
	json_array_append_new(operations(t), op->entry);
}

void task_op_end(struct task_op *op, enum run_status status, const char *error)
{
	op->status = status;
	json_t *e = op->entry;
	json_object_set_new(e, "status", json_string(run_status_name(status)));
	json_object_set_new(e, "duration_s", json_real(clock_mono() - op->started_mono));
	json_object_set_new(e, "processed", json_integer(op->processed));
	json_object_set_new(e, "succeeded", json_integer(op->succeeded));
	json_object_set_new(e, "failed", json_integer(op->failed));
	if (error) {
		char *safe = redact_string(error);
		json_t *text = json_string(safe);
		/* Provider text need not be UTF-8; jansson refuses it then. */
		json_object_set_new(e, "error", text ? text : json_string("(error text is not UTF-8)"));
		free(safe);
	} else {
		json_object_set_new(e, "error", json_null());
	}
}
