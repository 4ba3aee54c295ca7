/*
 * primecache's registry entry: the configuration it checks before the run
 * and how the run is recorded.
 */
#include "primecache.h"

static int primecache_prepare(void *opts)
{
	struct primecache_options *o = opts;
	/* A dry run sends nothing, so it needs no key. */
	return comicvine_config_from_env(&o->cv, !o->dry_run);
}

static enum run_status primecache_job_run(struct task *t, void *opts)
{
	struct primecache_options *o = opts;
	return primecache_run(t, o, &o->cv);
}

static void primecache_release(void *opts)
{
	struct primecache_options *o = opts;
	comicvine_config_release(&o->cv);
}

static json_t *primecache_args(const void *opts)
{
	const struct primecache_options *o = opts;
	return json_pack("{s:I, s:b, s:b}", "limit", (json_int_t)o->limit, "dry_run", o->dry_run,
			 "force_volumes", o->force_volumes);
}

static bool primecache_dry_run(const void *opts)
{
	return ((const struct primecache_options *)opts)->dry_run;
}

const struct job primecache_job = {
	.name = "primecache",
	.summary = "prime the ComicVine cache within its rate limits",
	.prepare = primecache_prepare,
	.run = primecache_job_run,
	.release = primecache_release,
	.args = primecache_args,
	.dry_run = primecache_dry_run,
};
