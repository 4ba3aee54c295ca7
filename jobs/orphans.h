/*
 * orphans: find the Cloudinary assets no row of the app references
 * (jobrun.asset_refs), keep the findings in jobrun.orphans, report them as
 * CSV and by mail, and with --delete remove them, safely.
 */
#ifndef JOBRUN_JOBS_ORPHANS_H
#define JOBRUN_JOBS_ORPHANS_H

#include <stdbool.h>

#include "cloudinary.h"
#include "job.h"
#include "mail.h"

/* The resource types a scan may cover, in the order of the types key. */
enum orph_type { ORPH_IMAGE, ORPH_VIDEO, ORPH_RAW, ORPH_NTYPES };

struct orphans_options {
	long days;               /* the window: uploads of the last N days; 0: all */
	const char *types_arg;   /* --types as given, NULL: all */
	bool types[ORPH_NTYPES]; /* parsed from types_arg */
	double min_age_s;        /* younger unreferenced assets are not orphans yet */
	const char *report_dir;  /* --report-dir, else JOBRUN_REPORT_DIR, else "reports" */
	bool delete;
	long max_delete;         /* deletions per run */
	double max_orphan_ratio; /* --delete refuses above it */
	bool dry_run;
	long limit;              /* Admin API calls this run; 0: only the hourly budget */
	/* Read by prepare: */
	struct cloudinary_config cld;
	struct mail_config mail;
	bool mail_on;            /* a mail transport and ADMIN_EMAIL are configured */
};

extern const struct job orphans_job;

struct task;
/* Run inside a started task; takes over o->cld's contents. A missing or
 * mis-shaped jobrun.asset_refs and bad credentials are config_error()s
 * (exit 78). */
enum run_status orphans_run(struct task *t, struct orphans_options *o);

/* Pure (unit-tested). "image,video" → types; -1 with why on an unknown or
 * repeated name or an empty list. */
int orphans_parse_types(const char *s, bool types[ORPH_NTYPES], char *why, size_t why_len);
/* "image,raw,video" (sorted): the scan state's key. */
void orphans_types_key(const bool types[ORPH_NTYPES], char *out, size_t len);
const char *orphans_type_name(enum orph_type t);

#endif
