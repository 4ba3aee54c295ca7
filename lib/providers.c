#include "providers.h"

#include "comicvine.h"
#include "config.h"

static bool comicvine_configured(void)
{
	return config_get("COMICVINE_API_KEY") != NULL;
}

static int comicvine_validate(void)
{
	struct comicvine_config cfg;
	if (comicvine_config_from_env(&cfg, true))
		return -1;
	comicvine_config_release(&cfg);
	return 0;
}

/* Provider clients add their entry here as they land. */
const struct provider_check provider_checks[] = {
	{ "comicvine", comicvine_configured, comicvine_validate, comicvine_ping },
	{ NULL, NULL, NULL, NULL },
};
