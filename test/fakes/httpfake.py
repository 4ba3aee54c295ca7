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
# Paged listings over generated items, one per paging style; the segment after the
# prefix names the bucket (and, for /paged/, the list's key, as ShipStation's "products").
LIST_PREFIXES = ("/cursor/", "/paged/", "/offset/")


def alias(text):
    """--bucket-alias VALUE=NAME"""
    value, sep, name = text.partition("=")
    if not sep or not value or not name:
        raise ValueError("expected VALUE=NAME")
    return value, name


class Generic(fakelib.Personality):
    name = "httpfake"

    @staticmethod
    def add_arguments(group):
        group.add_argument("--advertise-headers", action="store_true",
                           help="send X-RateLimit-* and X-FeatureRateLimit-* headers")
        group.add_argument("--bucket-header", metavar="NAME",
                           help="requests carrying this header (e.g. api-key) are bucketed by its value")
        group.add_argument("--bucket-alias", type=alias, action="append", default=[], metavar="VALUE=NAME",
                           help="bucket name for one --bucket-header value (default: key-<8 hex of sha256>)")
        group.add_argument("--items", type=int, default=1000, help="items behind the paged routes")
        group.add_argument("--links-absent", choices=fakelib.LINK_ABSENT_STYLES, default="empty",
                           help="/paged/: prev/next on the first/last page as {} (spec), null or left out")
        group.add_argument("--links-base", metavar="URL",
                           help="/paged/: hrefs start with this instead of http://<Host>")

    def bucket(self, path):
        if path.startswith(BUCKET_PREFIX) and len(path) > len(BUCKET_PREFIX):
            return path[len(BUCKET_PREFIX):]
        segment = list_segment(path)
        if segment:
            return segment[1]
        return "default"

    def bucket_for(self, request):
        """ShipStation-like: the key header's value picks the bucket, named without the key."""
        header = self.args.bucket_header
        value = request.headers.get(header) if header else None
        if value:
            return fakelib.secret_bucket(value, dict(self.args.bucket_alias))
        return self.bucket(request.path)

    def handle(self, request):
        response = self.route(request)
        if self.args.advertise_headers and self.args.window_limit > 0:
            response.headers.extend(self.limit_headers(request.bucket))
        return response

    def route(self, request):
        path, method = request.path, request.method
        if path == "/json" and method == "GET":
            return fakelib.json_response({"ok": True, "n": request.number})
        if path == "/echo" and method in ("GET", "POST"):
            return fakelib.json_response(echo(request))
        if path.startswith(BUCKET_PREFIX) and method == "GET":
            return fakelib.json_response({"ok": True, "bucket": self.bucket(path), "n": request.number})
        segment = list_segment(path)
        if segment and method == "GET":
            try:
                return fakelib.json_response(self.listing(request, *segment))
            except fakelib.PagingError as err:
                return fakelib.convention_error(self.convention, 400, str(err))
        return fakelib.json_response({"error": "not found", "path": path}, 404)

    def listing(self, request, prefix, name):
        """One page of items 1..N (N = --items, or the fake-only query parameter n)."""
        count = fakelib.int_param(request, "n", self.args.items, 0)
        items = [{"id": i, "public_id": "%s/item-%05d" % (name, i)} for i in range(1, count + 1)]
        if prefix == "/cursor/":
            page, cursor = fakelib.cursor_page(items, request, scope=request.path)
            body = {"resources": page}
            if cursor is not None:
                body["next_cursor"] = cursor
            return body
        if prefix == "/paged/":
            base = self.args.links_base.rstrip("/") + request.path if self.args.links_base \
                else fakelib.self_url(request, self.server)
            page, paging = fakelib.links_page(items, request, base, absent=self.args.links_absent)
            return dict({name: page}, **paging)
        page, offset, limit, total = fakelib.offset_page(items, request)
        return {"limit": limit, "offset": offset, "number_of_page_results": len(page),
                "number_of_total_results": total, "results": page}

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


def list_segment(path):
    """(prefix, name) for /cursor/NAME, /paged/NAME, /offset/NAME; None otherwise."""
    for prefix in LIST_PREFIXES:
        name = path[len(prefix):]
        if path.startswith(prefix) and name and "/" not in name:
            return prefix, name
    return None


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
