#include "schedule_notify.h"

#include <stdio.h>

#include "config.h"
#include "notify.h"
#include "schedule.h"
#include "schedule_state.h"
#include "schedule_status.h"

/* What the state is about, for the message. */
static void detail_of(const struct schedule_entry *e, const struct entry_facts *f,
		      enum entry_state st, char *out, size_t len)
{
	char when[32], grace[32];
	out[0] = '\0';
	if (st == ENTRY_LATE) {
		schedule_time_text(f->prev_due, when, sizeof(when));
		format_duration(e->grace_s, grace, sizeof(grace));
		snprintf(out, len, "due %s, no run started within its %s grace", when, grace);
	} else if (st == ENTRY_MISSED) {
		schedule_time_text(f->missed_due, when, sizeof(when));
		snprintf(out, len, "the slot due %s was recorded missed", when);
	}
}

int schedule_notify_pass(const struct schedule *s, struct db *db, const struct notify *n,
			 long long now)
{
	if (!notify_alerts_on(n))
		return 0;
	int sent = 0;
	for (size_t i = 0; i < s->n; i++) {
		const struct schedule_entry *e = &s->entries[i];
		struct entry_facts f;
		if (entry_facts_read(db, e, now, &f))
			return -1;
		enum entry_state st = entry_state_decide(e->expr, &f, now, e->grace_s);
		char detail[160];
		detail_of(e, &f, st, detail, sizeof(detail));
		int r = notify_entry_state(n, db, e->name, e->job ? e->job->name : e->argv[0],
					   entry_state_name(st), detail[0] ? detail : NULL);
		if (r > 0)
			sent++;
	}
	return sent;
}
