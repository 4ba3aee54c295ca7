/*
 * The trust store every libcurl handle uses, HTTP and SMTP alike, so that
 * CURL_CA_BUNDLE (or SSL_CERT_FILE / SSL_CERT_DIR) means one thing. TLS
 * verification itself always stays on; only where the CAs come from is
 * configurable.
 */
#ifndef JOBRUN_HTTP_TRUST_H
#define JOBRUN_HTTP_TRUST_H

#include <curl/curl.h>

void http_trust_apply(CURL *easy);

#endif
