#include "http_trust.h"

#include "config.h"

void http_trust_apply(CURL *easy)
{
	const char *bundle = config_get("CURL_CA_BUNDLE");
	if (!bundle)
		bundle = config_get("SSL_CERT_FILE");
	if (bundle)
		curl_easy_setopt(easy, CURLOPT_CAINFO, bundle);
	const char *dir = config_get("SSL_CERT_DIR");
	if (dir)
		curl_easy_setopt(easy, CURLOPT_CAPATH, dir);
}
