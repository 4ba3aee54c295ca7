/*
 * URL pieces for code outside lib/http that builds or describes URLs it
 * does not send itself through http_url_build(): a value escaped for any
 * part of a URL, and a URL's host for log lines (the host never carries a
 * secret; the path and query may). libcurl does both, so they live beside
 * the other lib/http*.c files, the only ones that include it.
 *
 * Ownership: both return new strings the caller frees.
 */
#ifndef JOBRUN_HTTP_URL_H
#define JOBRUN_HTTP_URL_H

/* Percent-encode every byte but ALPHA / DIGIT / "-" / "." / "_" / "~"
 * (curl_easy_escape), so the value is one path segment or query value
 * whatever it holds. */
char *http_escape(const char *s);
/* The host of an http(s) URL, lowercased as libcurl reports it; NULL when
 * url is not one. */
char *http_url_host(const char *url);

#endif
