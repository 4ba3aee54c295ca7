#include "http_url.h"

#include <curl/curl.h>
#include <string.h>

#include "xalloc.h"

char *http_escape(const char *s)
{
	char *esc = curl_easy_escape(NULL, s ? s : "", 0);
	if (!esc)
		return NULL;
	char *out = xstrdup(esc);
	curl_free(esc);
	return out;
}

char *http_url_host(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *out = NULL;
	if (u && url && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    (!strcmp(scheme, "http") || !strcmp(scheme, "https")) &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && *host)
		out = xstrdup(host);
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return out;
}
