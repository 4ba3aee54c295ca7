/*
 * What `jobrun doctor` knows about each provider: whether it is configured,
 * whether its configuration is valid, and one cheap authenticated request.
 * Each provider contributes one entry (lib/providers.c), named by its
 * descriptor; "configured" is the descriptor's secret variable being set.
 */
#ifndef JOBRUN_PROVIDERS_H
#define JOBRUN_PROVIDERS_H

#include <stdbool.h>
#include <stddef.h>

struct provider_desc;

struct provider_check {
	const char *name;                            /* the descriptor's */
	bool (*configured)(void);
	int (*validate)(void);                       /* config_error() on a problem */
	int (*ping)(char *detail, size_t detail_len); /* 0 when the provider answered */
	const struct provider_desc *desc;
};

/* NULL-terminated. */
extern const struct provider_check provider_checks[];

/* The descriptor's secret variable is set. */
bool provider_configured(const struct provider_desc *d);
/* The descriptor's own variables (base URL, secret) are valid. */
int provider_validate(const struct provider_desc *d);

#endif
