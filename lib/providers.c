#include "providers.h"

#include <stdlib.h>

#include "cloudinary.h"
#include "comicvine.h"
#include "config.h"
#include "provider.h"
#include "shipstation.h"

bool provider_configured(const struct provider_desc *d)
{
	return d->secret_var && config_get(d->secret_var) != NULL;
}

int provider_validate(const struct provider_desc *d)
{
	char *base_url;
	const char *secret;
	if (provider_config_from_env(d, true, &base_url, &secret))
		return -1;
	free(base_url);
	return 0;
}

static bool comicvine_configured(void)
{
	return provider_configured(&comicvine_desc);
}

/* The descriptor's variables, then ComicVine's own (limits, intervals). */
static int comicvine_validate(void)
{
	struct comicvine_config cfg;
	if (provider_validate(&comicvine_desc) || comicvine_config_from_env(&cfg, true))
		return -1;
	comicvine_config_release(&cfg);
	return 0;
}

static bool cloudinary_configured(void)
{
	return provider_configured(&cloudinary_desc);
}

/* CLOUDINARY_URL's shape, the base URL and the hourly limit. */
static int cloudinary_validate(void)
{
	struct cloudinary_config cfg;
	if (cloudinary_config_from_env(&cfg, true))
		return -1;
	cloudinary_config_release(&cfg);
	return 0;
}

/* Keys live in shipstation.integrations, not the environment: always
 * "configured"; its own variables are checked. */
static bool shipstation_configured(void)
{
	return true;
}

static int shipstation_validate(void)
{
	struct shipstation_config cfg;
	if (shipstation_config_from_env(&cfg))
		return -1;
	shipstation_config_release(&cfg);
	return 0;
}

/* A provider adds its entry here as it lands. */
const struct provider_check provider_checks[] = {
	{ "comicvine", comicvine_configured, comicvine_validate, comicvine_ping, &comicvine_desc },
	{ "cloudinary", cloudinary_configured, cloudinary_validate, cloudinary_ping, &cloudinary_desc },
	{ "shipstation", shipstation_configured, shipstation_validate, shipstation_ping,
	  &shipstation_desc },
	{ NULL, NULL, NULL, NULL, NULL },
};
