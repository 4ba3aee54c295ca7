/*
 * cleanup: purge trashed items past their plan's retention — their
 * Cloudinary assets first (batched deletes, grouped by resource type), then
 * their rows through the app's jobrun.purge_items(), in batches, each batch
 * one transaction. An item whose asset could not be deleted stays in the
 * trash for the next run; a kill between the two loses nothing (the next
 * run finds the assets not_found and purges the items).
 *
 * Ownership: struct cleanup_options is the command's; what prepare() puts
 * in it (the Cloudinary and mail configuration) is released by release().
 */
#ifndef JOBRUN_JOBS_CLEANUP_H
#define JOBRUN_JOBS_CLEANUP_H

#include <stdbool.h>
#include <stddef.h>

#include "cloudinary.h"
#include "job.h"
#include "mail.h"

#define CLEANUP_DEFAULT_RETENTION "free=5d,premium=30d"
#define CLEANUP_MAX_PLANS 32

/* Retention per plan; "*" is the default for plans not listed. */
struct cleanup_retention {
	size_t n;
	struct {
		char plan[64];
		double seconds;
	} plans[CLEANUP_MAX_PLANS];
	bool has_default;
	double default_s;
};

/* "free=5d,premium=30d[,*=10d]": plans are letters, digits, '-', '_', '.';
 * durations as everywhere (parse_duration), more than zero; a plan given
 * twice is an error. 0, or -1 with what is wrong in why. Pure. */
int cleanup_retention_parse(const char *text, struct cleanup_retention *out, char *why,
			    size_t why_len);
/* The retention of a plan; -1 when neither listed nor covered by "*". */
double cleanup_retention_of(const struct cleanup_retention *r, const char *plan);
/* "free=5d,premium=30d" (canonical, for logs and the run record). */
void cleanup_retention_format(const struct cleanup_retention *r, char *out, size_t len);

struct cleanup_options {
	bool dry_run;        /* print what would go; no call, no write */
	long limit;          /* Admin API calls this run (every attempt); 0: only the hourly budget */
	const char *retention_arg;          /* --retention, NULL: JOBRUN_RETENTION */
	struct cleanup_retention retention; /* prepare: parsed */
	struct cloudinary_config cld;       /* prepare */
	bool mail;                          /* prepare: mail is configured */
	struct mail_config mail_cfg;        /* prepare, when mail */
};

extern const struct job cleanup_job;

#endif
