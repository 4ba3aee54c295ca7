#include "providers.h"

/* Provider clients add their entry here as they land. */
const struct provider_check provider_checks[] = {
	{ NULL, NULL, NULL, NULL },
};
