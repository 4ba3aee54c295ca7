#!/usr/bin/env python3
"""Generic stand-in for testing jobrun's http layer (lib/http) on its own.

It has no provider semantics: a few routes that echo what the client sent, so
tests can check headers, keep-alive, redaction and pacing, plus the common
rate-limit and fault machinery of fakelib.
"""

import sys
import time

import fakelib

BUCKET_PREFIX = "/bucket/"


class Generic(fakelib.Personality):
    name = "httpfake"

    @staticmethod
    def add_arguments(group):
        group.add_argument("--advertise-headers", action="store_true",
                           help="send X-RateLimit-* and X-FeatureRateLimit-* headers")

    def bucket(self, path):
        if path.startswith(BUCKET_PREFIX) and len(path) > len(BUCKET_PREFIX):
            return path[len(BUCKET_PREFIX):]
        return "default"

    def handle(self, request):
        response = self.route(request)
        if self.args.advertise_headers and self.args.window_limit > 0:
            response.headers.extend(self.limit_headers(self.bucket(request.path)))
        return response

    def route(self, request):
        path, method = request.path, request.method
        if path == "/json" and method == "GET":
            return fakelib.json_response({"ok": True, "n": request.number})
        if path == "/echo" and method in ("GET", "POST"):
            return fakelib.json_response(echo(request))
        if path.startswith(BUCKET_PREFIX) and method == "GET":
            return fakelib.json_response({"ok": True, "bucket": self.bucket(path), "n": request.number})
        return fakelib.json_response({"error": "not found", "path": path}, 404)

    def limit_headers(self, bucket):
        """The window as Cloudinary-like clients read it (Reset: seconds and HTTP date)."""
        limit, remaining, reset_in = self.server.ledger.window_state(bucket, time.monotonic())
        reset_at = fakelib.http_date(time.time() + reset_in)
        return [
            ("X-RateLimit-Limit", str(limit)),
            ("X-RateLimit-Remaining", str(remaining)),
            ("X-RateLimit-Reset", str(int(reset_in + 0.999))),
            ("X-FeatureRateLimit-Limit", str(limit)),
            ("X-FeatureRateLimit-Remaining", str(remaining)),
            ("X-FeatureRateLimit-Reset", reset_at),
        ]


def echo(request):
    """What arrived, secrets replaced, so tests can assert the client hid nothing it should send."""
    answer = {
        "method": request.method,
        "path": request.path,
        "query": fakelib.redact_query(request.query),
        "headers": fakelib.redact_headers(request.headers),
        "auth_present": fakelib.has_auth_header(request.headers),
        "user_agent": request.headers.get("User-Agent"),
        "n": request.number,
    }
    if request.method == "POST":
        answer["body_length"] = len(request.body)
    return answer


if __name__ == "__main__":
    sys.exit(fakelib.main(Generic, __doc__.splitlines()[0]))
