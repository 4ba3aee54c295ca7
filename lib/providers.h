/*
 * What `jobrun doctor` knows about each provider: whether it is configured,
 * whether its configuration is valid, and one cheap authenticated request.
 * Each provider client contributes one entry (lib/providers.c).
 */
#ifndef JOBRUN_PROVIDERS_H
#define JOBRUN_PROVIDERS_H

#include <stdbool.h>
#include <stddef.h>

struct provider_check {
	const char *name;
	bool (*configured)(void);
	int (*validate)(void);                      /* config_error() on a problem */
	int (*ping)(char *detail, size_t detail_len); /* 0 when the provider answered */
};

/* NULL-terminated. */
extern const struct provider_check provider_checks[];

#endif
