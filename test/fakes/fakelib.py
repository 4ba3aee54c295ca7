"""Shared machinery for the local provider stand-ins in test/fakes/.

A fake is a "personality" (routes, buckets, rate-limit answer) plugged into one
server that does what every provider does the same way: HTTP/1.1 keep-alive,
rate-limit enforcement (per-bucket windows plus global spacing), injected
faults, a JSON-lines request log with secrets redacted, and the /_control/
endpoints tests use to arm faults and read counters.

Standard library only: the test machines get Debian packages, not pip.
"""

import argparse
import bisect
import hashlib
import http
import json
import math
import os
import select
import signal
import socket
import struct
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

REDACTED = "[REDACTED]"
SECRET_QUERY_KEYS = frozenset({
    "api_key", "apikey", "api-key", "key", "token", "access_token",
    "secret", "client_secret", "api_secret", "password", "signature",
})
SECRET_HEADERS = frozenset({
    "authorization", "proxy-authorization", "api-key", "x-api-key", "cookie",
})

# Phrases http.server does not know; clients only look at the number.
EXTRA_REASONS = {420: "Enhance Your Calm"}

FAULT_KINDS = frozenset({
    "status", "retry_after", "ratelimit420", "timeout", "reset", "truncated",
    "notjson", "html", "html200", "slow", "bigbody",
})

BLOCK_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Access denied</title></head>
<body>
<h1>Access denied</h1>
<p>You don't have permission to access this resource. Your request was blocked
by the site's security service because it looked automated.</p>
<p>Reference #18.5c3e1002.1700000000.1a2b3c4d</p>
</body>
</html>
"""

CHALLENGE_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Just a moment...</title></head>
<body>
<noscript>Enable JavaScript and cookies to continue</noscript>
<div id="challenge">Checking your browser before accessing the site.</div>
</body>
</html>
"""


# ---------------------------------------------------------------- responses

class Response:
    """One answer: status, body bytes and extra headers (Content-Length is always computed)."""

    def __init__(self, status, body=b"", content_type="application/json", headers=None):
        self.status = status
        self.body = body if isinstance(body, bytes) else body.encode("utf-8")
        self.content_type = content_type
        self.headers = list(headers or [])


def json_bytes(value):
    """Serialise like a web API: compact, raw UTF-8, lone surrogates as \\uXXXX escapes.

    ensure_ascii=False keeps emoji as real 4-byte UTF-8; a lone surrogate cannot be
    UTF-8 encoded, and 'backslashreplace' turns it into exactly the JSON escape.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", errors="backslashreplace")


def json_response(value, status=200, headers=None):
    return Response(status, json_bytes(value), headers=headers)


def html_response(status, page):
    return Response(status, page, content_type="text/html; charset=utf-8")


def load_fixture(relpath):
    """Fixture bytes from test/fixtures (the project never reads ../shared at run time)."""
    return (FIXTURES / relpath).read_bytes()


def reason_phrase(status):
    """Standard phrase, or our own for provider codes such as 420."""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return EXTRA_REASONS.get(status, "")


def http_date(epoch_seconds):
    return formatdate(epoch_seconds, usegmt=True)


# ------------------------------------------------------------------- ledger

class Ledger:
    """Counts requests and enforces the rate rules, under one lock so that
    concurrent connections are judged in arrival order.

    Spacing: a request is a violation when its gap to the nearest other arrival
    is below min_interval - tolerance. Arrivals are kept sorted, so a request
    whose thread wins the lock late is still compared with its true neighbours.
    Every request (rejected ones too) is an arrival.

    Window: fixed, per bucket, starting at the first accepted request after the
    previous window expired. Only accepted requests use window quota.
    """

    KEEP_ARRIVALS = 256

    def __init__(self, window_limit, window_seconds, min_interval, tolerance):
        self.window_limit = window_limit
        self.window_seconds = window_seconds
        self.min_interval = min_interval
        self.tolerance = tolerance
        self.lock = threading.Lock()
        self.rules = {}            # bucket -> its own window/spacing (configuration: survives reset)
        self._clear()

    def reset(self):
        with self.lock:
            self._clear()

    def _clear(self):
        self.arrivals = []
        self.windows = {}          # bucket -> [start, accepted]
        self.requests = 0
        self.violations = 0
        self.by_bucket = {}
        self.bucket_arrivals = {}  # bucket -> sorted arrivals, for buckets with their own spacing

    def record(self, bucket, arrival):
        """Count one API request; return (request number, violation or None)."""
        with self.lock:
            spacing = self._spacing_violation(arrival)
            bucket_spacing = self._bucket_spacing_violation(bucket, arrival)   # always: it records the arrival
            violation = spacing or bucket_spacing or self._window_violation(bucket, arrival)
            self.requests += 1
            counts = self.by_bucket.setdefault(bucket, {"requests": 0, "violations": 0})
            counts["requests"] += 1
            if violation:
                self.violations += 1
                counts["violations"] += 1
            return self.requests, violation

    def _spacing_violation(self, arrival):
        """Insert the arrival and judge it against its neighbours in time."""
        pos = bisect.bisect(self.arrivals, arrival)
        neighbours = self.arrivals[max(pos - 1, 0):pos + 1]
        self.arrivals.insert(pos, arrival)
        del self.arrivals[:-self.KEEP_ARRIVALS]
        threshold = self.min_interval - self.tolerance
        if self.min_interval > 0 and any(abs(arrival - n) < threshold for n in neighbours):
            return "spacing"
        return None

    def _window_violation(self, bucket, arrival):
        window_limit, window_seconds, _ = self.rule(bucket)
        if window_limit <= 0:
            return None
        window = self.windows.get(bucket)
        if window is None or arrival - window[0] >= window_seconds:
            window = self.windows[bucket] = [arrival, 0]
        if window[1] >= window_limit:
            return "window"
        window[1] += 1
        return None

    def window_state(self, bucket, now):
        """(limit, remaining, seconds until reset) for advertising headers."""
        with self.lock:
            window_limit, window_seconds, _ = self.rule(bucket)
            window = self.windows.get(bucket)
            if window is None or now - window[0] >= window_seconds:
                return window_limit, window_limit, window_seconds
            reset_in = window[0] + window_seconds - now
            return window_limit, max(window_limit - window[1], 0), reset_in

    def snapshot(self):
        with self.lock:
            return {
                "requests": self.requests,
                "violations": self.violations,
                "by_bucket": {b: dict(c) for b, c in self.by_bucket.items()},
            }

    # ---- per-bucket rules (providers whose limits differ per bucket or per key)

    def set_rules(self, rules):
        """Merge {bucket: {window_limit, window_seconds, min_interval}}; raise ValueError on a bad one."""
        checked = {name: check_bucket_rule(name, rule) for name, rule in parse_bucket_rules(rules).items()}
        with self.lock:
            self.rules.update(checked)

    def rules_snapshot(self):
        with self.lock:
            return {name: dict(rule) for name, rule in self.rules.items()}

    def rule(self, bucket):
        """(window_limit, window_seconds, min_interval) for bucket: its own rule, else the global
        window and no spacing of its own (global spacing is judged over all arrivals anyway)."""
        rule = self.rules.get(bucket, {})
        return (rule.get("window_limit", self.window_limit),
                rule.get("window_seconds", self.window_seconds),
                rule.get("min_interval", 0.0))

    def _bucket_spacing_violation(self, bucket, arrival):
        """Spacing among this bucket's own arrivals, judged like the global spacing."""
        interval = self.rule(bucket)[2]
        if interval <= 0:
            return None
        arrivals = self.bucket_arrivals.setdefault(bucket, [])
        pos = bisect.bisect(arrivals, arrival)
        neighbours = arrivals[max(pos - 1, 0):pos + 1]
        arrivals.insert(pos, arrival)
        del arrivals[:-self.KEEP_ARRIVALS]
        if any(abs(arrival - n) < interval - self.tolerance for n in neighbours):
            return "spacing"
        return None

    def retry_after(self, bucket, violation, now):
        """Whole seconds a refused client should wait (at least 1): until the window
        resets, or one spacing interval."""
        if violation == "window":
            return max(1, math.ceil(self.window_state(bucket, now)[2]))
        return max(1, math.ceil(max(self.min_interval, self.rule(bucket)[2])))


BUCKET_RULE_KEYS = {"window_limit": int, "window_seconds": float, "min_interval": float}


def parse_bucket_rules(value):
    """--bucket-rules / POST /_control/buckets: a JSON object (text or parsed) of rules by bucket."""
    rules = json.loads(value) if isinstance(value, (str, bytes)) else value
    if not isinstance(rules, dict):
        raise ValueError("bucket rules are a JSON object {bucket: rule}")
    return rules


def check_bucket_rule(name, rule):
    if not isinstance(rule, dict):
        raise ValueError("the rule for bucket %r is not an object" % (name,))
    checked = {}
    for key, value in rule.items():
        kind = BUCKET_RULE_KEYS.get(key)
        if kind is None:
            raise ValueError("unknown bucket rule key %r (known: %s)" % (key, ", ".join(BUCKET_RULE_KEYS)))
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 \
                or (kind is int and value != int(value)):
            raise ValueError("bucket %r: %s must be a non-negative %s" % (name, key, kind.__name__))
        checked[key] = kind(value)
    return checked


# ------------------------------------------------------------------- faults

class FaultQueue:
    """Faults armed by tests; each fires on the next `count` matching requests."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pending = []
        self.fired = 0

    def add(self, spec):
        """Validate and queue one fault spec; raise ValueError with a reason."""
        if not isinstance(spec, dict):
            raise ValueError("a fault is a JSON object")
        kind = spec.get("kind")
        if kind not in FAULT_KINDS:
            raise ValueError("unknown fault kind %r" % (kind,))
        count = spec.get("count", 1)
        if not isinstance(count, int) or count < 1:
            raise ValueError("count must be a positive integer")
        fault = dict(spec, match=spec.get("match", "*"), count=count)
        fault.update(fault_request_criteria(spec))
        with self.lock:
            self.pending.append(fault)

    def matches(self, fault, path, request):
        """Whether a pending fault applies to this request; a personality may add criteria."""
        return (fault["match"] == "*" or path.startswith(fault["match"])) and fault_matches_request(fault, request)

    def take(self, path, request=None):
        """The first pending fault matching path (and the request's method and query), consuming one of its uses."""
        with self.lock:
            for fault in self.pending:
                if self.matches(fault, path, request):
                    fault["count"] -= 1
                    if fault["count"] == 0:
                        self.pending.remove(fault)
                    self.fired += 1
                    return fault
        return None

    def outstanding(self):
        with self.lock:
            return sum(f["count"] for f in self.pending)

    def clear(self):
        with self.lock:
            self.pending.clear()
            self.fired = 0


def fault_request_criteria(spec):
    """A fault's optional "method" (default any) and "query" {name: value} criteria, checked."""
    method = spec.get("method", "*")
    if not isinstance(method, str) or not method:
        raise ValueError("method must be a non-empty string")
    query = spec.get("query", {})
    if not isinstance(query, dict) or \
            not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in query.values()):
        raise ValueError('query must be an object of {"name": "value"}')
    return {"method": method.upper(), "query": {str(k): str(v) for k, v in query.items()}}


def fault_matches_request(fault, request):
    """Method and query criteria; a fault without them matches any request."""
    if request is None:
        return fault["method"] == "*" and not fault["query"]
    if fault["method"] not in ("*", request.method.upper()):
        return False
    return all(request.param(name) == value for name, value in fault["query"].items())


# ------------------------------------------------------------------ request

class Request:
    """What a personality sees of one request."""

    def __init__(self, method, target, headers, body, arrival, number):
        split = urlsplit(target)
        self.method = method
        self.path = split.path
        self.query = parse_qs(split.query, keep_blank_values=True)
        self.headers = headers
        self.body = body
        self.arrival = arrival
        self.number = number
        self.auth_ok = None        # set by personalities that check credentials
        self.bucket = None         # set by the server once the personality chose it

    def param(self, name, default=None):
        values = self.query.get(name)
        return values[-1] if values else default


def redact_query(query):
    """Query dict for logs and echoes: single values flattened, secrets hidden."""
    out = {}
    for key, values in query.items():
        if key.lower() in SECRET_QUERY_KEYS:
            out[key] = REDACTED
        else:
            out[key] = values[0] if len(values) == 1 else values
    return out


def redact_headers(headers):
    return {k: (REDACTED if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


def has_auth_header(headers):
    return any(k.lower() in SECRET_HEADERS - {"cookie"} for k in headers.keys())


# -------------------------------------------------------------- personality

class Personality:
    """Base class: override routes; the server calls these hooks."""

    name = "generic"

    @staticmethod
    def add_arguments(parser):
        """Personality-specific CLI options."""

    def __init__(self, args, server):
        self.args = args
        self.server = server

    def bucket(self, path):
        return "default"

    def rate_limited(self):
        return json_response({"error": "Too Many Requests"}, 429, [("Retry-After", "1")])

    def rate_limit_body(self, status):
        """Body used by the retry_after fault, shaped like this provider's limit answer."""
        if self.convention:
            return convention_limit_body(self.convention, status)
        return json_response({"error": "Too Many Requests"}, status)

    def handle(self, request):
        raise NotImplementedError

    def control(self, request):
        """Personality control endpoints; None means 'not mine'."""
        return None

    def log_fields(self, request):
        """Extra keys for this request's log line (faulted and refused requests too); never secrets."""
        return {}

    # ---- per-request buckets and rate conventions (the defaults keep the behaviour above)

    # "generic", "cloudinary" or "shipstation": the rate headers on answers and the shape of
    # the over-limit answer (RATE_CONVENTIONS). None: no headers, over-limit is rate_limited().
    # --rate-convention overrides it.
    rate_convention = None

    @property
    def convention(self):
        return getattr(self.args, "rate_convention", None) or self.rate_convention

    def bucket_for(self, request):
        """The bucket of one request; override to look past the path (a key header, say).
        The name lands in logs and stats: never return a secret (see secret_bucket)."""
        return self.bucket(request.path)

    def over_limit(self, request, violation):
        """The answer to a request the ledger refused."""
        convention = self.convention
        if not convention:
            return self.rate_limited()
        response = self.rate_limit_body(RATE_CONVENTIONS[convention]["over_limit_status"])
        response.headers.extend(self.rate_headers(request.bucket))
        if RATE_CONVENTIONS[convention]["retry_after"]:
            wait = self.server.ledger.retry_after(request.bucket, violation, time.monotonic())
            response.headers.append(("Retry-After", str(wait)))
        return response

    def rate_headers(self, bucket):
        """Headers stating bucket's window in this provider's convention; none without a window."""
        if not self.convention:
            return []
        limit, remaining, reset_in = self.server.ledger.window_state(bucket, time.monotonic())
        if limit <= 0:
            return []
        return rate_limit_headers(self.convention, limit, remaining, reset_in)


# ------------------------------------------------------ provider conventions

# How each provider states its window and refuses a request over it.
# Reset: "seconds" until the window resets (whole, rounded up) or an HTTP "date"
# (rounded up to the next whole second, so a client waiting until it is never early).
RATE_CONVENTIONS = {
    "generic": {"prefix": "X-RateLimit-", "reset": "seconds", "over_limit_status": 429, "retry_after": True},
    "cloudinary": {"prefix": "X-FeatureRateLimit-", "reset": "date", "over_limit_status": 420, "retry_after": False},
    "shipstation": {"prefix": "X-Rate-Limit-", "reset": "seconds", "over_limit_status": 429, "retry_after": True},
}


def rate_limit_headers(convention, limit, remaining, reset_in):
    style = RATE_CONVENTIONS[convention]
    if style["reset"] == "date":
        reset = http_date(math.ceil(time.time() + reset_in))
    else:
        reset = str(math.ceil(reset_in))
    prefix = style["prefix"]
    return [(prefix + "Limit", str(limit)), (prefix + "Remaining", str(remaining)), (prefix + "Reset", reset)]


def convention_limit_body(convention, status):
    """The over-limit body each provider sends (Cloudinary's error object, ShipStation's error list)."""
    if convention == "cloudinary":
        return json_response({"error": {"message": "Rate Limit Exceeded"}}, status)
    if convention == "shipstation":
        return shipstation_error(status, "system", "rate_limit_exceeded",
                                 "You have exceeded the rate limit. Please wait and try again.")
    return json_response({"error": "Too Many Requests"}, status)


def convention_error(convention, status, message):
    """A client error (a bad parameter) in the provider's error shape."""
    if convention == "cloudinary":
        return json_response({"error": {"message": message}}, status)
    if convention == "shipstation":
        return shipstation_error(status, "validation", "invalid_field_value", message)
    return json_response({"error": message}, status)


def shipstation_error(status, error_type, error_code, message, error_source="ShipStation"):
    """ShipStation v2's error body: {"request_id", "errors": [{error_source, error_type, error_code, message}]}."""
    return json_response({
        "request_id": str(uuid.uuid4()),
        "errors": [{"error_source": error_source, "error_type": error_type,
                    "error_code": error_code, "message": message}],
    }, status)


def secret_bucket(value, aliases=None, prefix="key-"):
    """A bucket name for a secret (an API key): its configured alias, else a short hash.
    Logs and stats show bucket names, so the secret itself must never be one."""
    if aliases and value in aliases:
        return aliases[value]
    return prefix + hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()[:8]


# ------------------------------------------------------------------- paging

class PagingError(ValueError):
    """A bad paging parameter; the personality answers it in its provider's error shape."""


def int_param(request, name, default, low, high=None):
    text = request.param(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise PagingError("%s must be an integer" % name)
    if value < low or (high is not None and value > high):
        raise PagingError("%s must be between %d and %s" % (name, low, high if high is not None else "any"))
    return value


def offset_page(items, request, default_limit=100, max_limit=100):
    """ComicVine style (offset, limit; a larger limit is clamped): (page items, offset, limit, total)."""
    limit = min(int_param(request, "limit", default_limit, 1), max_limit)
    offset = int_param(request, "offset", 0, 0)
    return items[offset:offset + limit], offset, limit, len(items)


# Opaque cursors: a keyed hash of (scope, offset) followed by the offset, so a client
# cannot build one, a cursor from another listing or another fake run is refused,
# and the fake stays stateless. 40 hex digits, like Cloudinary's.
CURSOR_KEY = os.urandom(16)


def encode_cursor(scope, offset):
    mac = hashlib.sha256(CURSOR_KEY + ("%s\0%d" % (scope, offset)).encode("utf-8")).hexdigest()[:32]
    return mac + "%08x" % offset


def decode_cursor(scope, cursor):
    if len(cursor) != 40:
        raise PagingError("invalid next_cursor")
    try:
        offset = int(cursor[32:], 16)
    except ValueError:
        raise PagingError("invalid next_cursor")
    if encode_cursor(scope, offset) != cursor:
        raise PagingError("invalid next_cursor")
    return offset


def cursor_page(items, request, scope, default_max=10, max_max=500):
    """Cloudinary style: max_results (default 10, at most 500) and next_cursor.
    Returns (page items, next cursor or None on the last page)."""
    max_results = int_param(request, "max_results", default_max, 1, max_max)
    cursor = request.param("next_cursor")
    offset = decode_cursor(scope, cursor) if cursor else 0
    end = offset + max_results
    return items[offset:end], (encode_cursor(scope, end) if end < len(items) else None)


LINK_ABSENT_STYLES = ("empty", "null", "absent")


def links_page(items, request, base_url, default_size=25, max_size=100, absent="empty"):
    """ShipStation v2 style: page (from 1) and page_size (1..max_size).
    Returns (page items, {"total", "page", "pages", "links"}); links.first/last always have an
    href, prev/next only when that page exists, otherwise `absent`: "empty" ({} as the
    OpenAPI spec's optional_link says), "null", or "absent" (key left out).
    Hrefs are base_url with the request's query, page and page_size replaced."""
    size = int_param(request, "page_size", default_size, 1, max_size)
    page = int_param(request, "page", 1, 1)
    total = len(items)
    pages = (total + size - 1) // size

    def link(number):
        query = [(k, v) for k, values in request.query.items() if k not in ("page", "page_size") for v in values]
        return {"href": base_url + "?" + urlencode(query + [("page", number), ("page_size", size)])}

    links = {"first": link(1), "last": link(max(pages, 1))}
    for name, number, exists in (("prev", page - 1, page > 1), ("next", page + 1, page < pages)):
        if exists:
            links[name] = link(number)
        elif absent == "empty":
            links[name] = {}
        elif absent == "null":
            links[name] = None
    return items[(page - 1) * size:page * size], {"total": total, "page": page, "pages": pages, "links": links}


def self_url(request, server):
    """http://host:port/path of this request as the client addressed us (for links)."""
    host = request.headers.get("Host") or "127.0.0.1:%d" % server.server_address[1]
    return "http://%s%s" % (host, request.path)


# -------------------------------------------------------------- HTTP server

class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog is 5: a burst of concurrent connections (sync's
    # two streams for each of 10 accounts) would see SYNs dropped and retried a second later.
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, args, personality_class):
        super().__init__(("127.0.0.1", args.port), FakeHandler)
        self.args = args
        self.stopping = threading.Event()
        self.ledger = Ledger(args.window_limit, args.window_seconds, args.min_interval, args.tolerance)
        self.ledger.set_rules(getattr(args, "bucket_rules", None) or {})
        self.faults = FaultQueue()
        self.log_lock = threading.Lock()
        self.log_file = open(args.log, "a", encoding="utf-8") if args.log else None
        self.connections = 0
        self.in_progress = 0           # API requests taken but not yet logged
        self.conn_lock = threading.Lock()
        self.personality = personality_class(args, self)
        for spec in args.faults:
            self.faults.add(spec)

    def next_connection_id(self):
        with self.conn_lock:
            self.connections += 1
            return self.connections

    def write_log(self, entry):
        if self.log_file is None:
            return
        line = json.dumps(entry, ensure_ascii=True) + "\n"
        with self.log_lock:
            self.log_file.write(line)
            self.log_file.flush()

    def stats(self):
        stats = self.ledger.snapshot()
        stats["faults_pending"] = self.faults.outstanding()
        stats["faults_fired"] = self.faults.fired
        stats["connections"] = self.connections
        stats["in_progress"] = self.in_progress
        return stats

    def reset(self):
        self.ledger.reset()
        self.faults.clear()


class FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120                 # idle keep-alive connections are dropped after this

    def version_string(self):
        return "jobrun-fake"

    def setup(self):
        super().setup()
        self.conn_id = self.server.next_connection_id()

    def parse_request(self):
        """Stamp the arrival right after the request line was read: pacing is judged on it."""
        self.arrival = time.monotonic()
        return super().parse_request()

    def log_message(self, format, *args):
        """Silence http.server's stderr chatter; the JSON log is the record."""

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    # ---- dispatch

    def dispatch(self):
        body = self.read_body()
        if body is None:
            return
        if urlsplit(self.path).path.startswith("/_control/"):
            self.send(self.control(body))
            return
        self.serve_api(body)

    def read_body(self):
        """Request body by Content-Length or chunked; None after answering 400."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self.read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.send(json_response({"error": "bad Content-Length"}, 400))
            self.close_connection = True
            return None
        return self.rfile.read(length) if length > 0 else b""

    def read_chunked(self):
        chunks = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def serve_api(self, body):
        """Count the request as in progress until its log line is written:
        tests wait for in_progress 0 before they read the log."""
        server = self.server
        with server.conn_lock:
            server.in_progress += 1
        try:
            self.serve_counted(body)
        finally:
            with server.conn_lock:
                server.in_progress -= 1

    def serve_counted(self, body):
        server = self.server
        personality = server.personality
        path = urlsplit(self.path).path
        request = Request(self.command, self.path, self.headers, body, self.arrival, 0)
        bucket = request.bucket = personality.bucket_for(request)
        request.number, violation = server.ledger.record(bucket, self.arrival)
        fault = None
        if violation:
            status = self.send(personality.over_limit(request, violation))
        else:
            fault = server.faults.take(path, request)
            status = self.answer(request, fault)
        server.write_log(self.log_entry(request, bucket, status, violation, fault))

    def log_entry(self, request, bucket, status, violation, fault):
        entry = {
            "t": round(request.arrival, 6),
            "wall": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "n": request.number,
            "conn": self.conn_id,
            "method": request.method,
            "path": request.path,
            "query": redact_query(request.query),
            "status": status,
            "violation": violation,
            "fault": fault["kind"] if fault else None,
            "bucket": bucket,
            "auth_ok": request.auth_ok,
            "user_agent": self.headers.get("User-Agent"),
            "dur": round(time.monotonic() - request.arrival, 6),
        }
        entry.update(self.server.personality.log_fields(request))
        return entry

    # ---- faults

    def answer(self, request, fault):
        """Answer normally or through the fault; return the status sent (None if none)."""
        personality = self.server.personality
        if fault is None:
            return self.send(self.handled(request))
        kind = fault["kind"]
        if kind == "timeout":
            self.hold(float(fault.get("seconds", 30)))
            self.close_connection = True
            return None
        if kind == "slow":
            self.server.stopping.wait(float(fault.get("seconds", 2)))
            return self.send(self.handled(request))
        if kind == "reset":
            return self.send_then_reset(self.handled(request))
        if kind == "truncated":
            return self.send_truncated(self.handled(request))
        return self.send(canned_fault_response(fault, personality))

    def handled(self, request):
        """The personality's answer, with its rate headers (after the work, as servers do)."""
        personality = self.server.personality
        response = personality.handle(request)
        response.headers.extend(personality.rate_headers(request.bucket))
        return response

    def hold(self, seconds):
        """Keep the connection silent; give up when the client leaves or we shut down."""
        deadline = time.monotonic() + seconds
        while not self.server.stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            readable, _, _ = select.select([self.connection], [], [], min(left, 0.1))
            if readable and self.client_gone():
                return
            if readable:
                self.server.stopping.wait(min(left, 0.1))

    def client_gone(self):
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def send_then_reset(self, response):
        """Promise the full body, deliver half, then RST (SO_LINGER 0)."""
        self.send_head(response, len(response.body))
        self.wfile.write(response.body[:len(response.body) // 2])
        self.wfile.flush()
        time.sleep(0.05)       # let the half body leave before the RST overtakes it
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # Close now: socketserver would otherwise shutdown(SHUT_WR) first, a FIN, not a RST.
        self.rfile.close()
        self.connection.close()
        self.close_connection = True
        return response.status

    def send_truncated(self, response):
        """Promise more bytes than we send, then close normally (FIN)."""
        self.send_head(response, len(response.body) + 1000)
        self.wfile.write(response.body)
        self.wfile.flush()
        self.close_connection = True
        return response.status

    # ---- sending

    def send_head(self, response, content_length):
        self.send_response(response.status, reason_phrase(response.status))
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(content_length))
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()

    def send(self, response):
        try:
            self.send_head(response, len(response.body))
            self.wfile.write(response.body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        return response.status

    # ---- control endpoints

    def control(self, body):
        request = Request(self.command, self.path, self.headers, body, self.arrival, 0)
        server = self.server
        route = (request.method, request.path.rstrip("/"))
        if route == ("GET", "/_control/stats"):
            return json_response(server.stats())
        if route == ("POST", "/_control/reset"):
            server.reset()
            return json_response({"ok": True})
        if route == ("POST", "/_control/fault"):
            return self.arm_fault(body)
        if route in (("GET", "/_control/buckets"), ("POST", "/_control/buckets")):
            return self.bucket_rules(request)
        answer = server.personality.control(request)
        if answer is not None:
            return answer
        return json_response({"error": "no such control endpoint", "path": request.path}, 404)

    def arm_fault(self, body):
        try:
            specs = json.loads(body or b"null")
            for spec in specs if isinstance(specs, list) else [specs]:
                self.server.faults.add(spec)
        except ValueError as err:
            return json_response({"error": str(err)}, 400)
        return json_response({"ok": True, "faults_pending": self.server.faults.outstanding()})

    def bucket_rules(self, request):
        """GET: the per-bucket rules; POST {bucket: rule}: merge them in (they survive reset)."""
        ledger = self.server.ledger
        if request.method == "POST":
            try:
                ledger.set_rules(request.body or b"null")
            except ValueError as err:
                return json_response({"error": str(err)}, 400)
        return json_response({"ok": True, "buckets": ledger.rules_snapshot()})


def canned_fault_response(fault, personality):
    """Faults that replace the answer entirely."""
    kind = fault["kind"]
    if kind == "status":
        status = int(fault.get("status", 500))
        default = "%d %s\n" % (status, reason_phrase(status))
        return Response(status, fault.get("body", default), content_type=fault.get("content_type", "text/plain"))
    if kind == "retry_after":
        response = personality.rate_limit_body(int(fault.get("status", 429)))
        response.headers.append(("Retry-After", str(fault.get("value", "1"))))
        return response
    if kind == "ratelimit420":
        return Response(420, load_fixture("comicvine/error-107-rate-limit-http420.json"))
    if kind == "notjson":
        return Response(200, "this is not json")
    if kind == "html":
        return html_response(403, BLOCK_PAGE)
    if kind == "html200":
        return html_response(200, CHALLENGE_PAGE)
    if kind == "bigbody":
        return Response(200, padded_json(int(fault.get("bytes", 20 * 1024 * 1024))))
    raise AssertionError("unhandled fault kind " + kind)


def padded_json(size):
    """A valid JSON object of exactly `size` bytes (at least 12)."""
    head, tail = b'{"pad":"', b'"}'
    return head + b"x" * max(size - len(head) - len(tail), 0) + tail


# --------------------------------------------------------------------- CLI

def parse_fault_list(text):
    value = json.loads(text)
    return value if isinstance(value, list) else [value]


def build_parser(description, personality_class):
    parser = argparse.ArgumentParser(description=description)
    common = parser.add_argument_group("common options")
    common.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1; 0 picks a free one")
    common.add_argument("--port-file", help="write the port here (atomically) once listening")
    common.add_argument("--pid-file", help="write our pid here")
    common.add_argument("--log", help="append one JSON line per API request")
    common.add_argument("--window-limit", type=int, default=0, help="requests per window per bucket; 0 = unlimited")
    common.add_argument("--window-seconds", type=float, default=3600.0, help="window length")
    common.add_argument("--min-interval", type=float, default=0.0, help="minimum gap between any two requests")
    common.add_argument("--tolerance", type=float, default=0.002, help="measurement slack for --min-interval")
    common.add_argument("--faults", type=parse_fault_list, default=[], help="JSON fault object or list to pre-queue")
    common.add_argument("--bucket-rules", type=parse_bucket_rules, default={},
                        help='JSON {bucket: {"window_limit", "window_seconds", "min_interval"}}: per-bucket limits')
    common.add_argument("--rate-convention", choices=sorted(RATE_CONVENTIONS),
                        help="rate headers on answers and over-limit answers as this provider sends them")
    personality_class.add_arguments(parser.add_argument_group(personality_class.name + " options"))
    return parser


def write_atomically(path, text):
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w", encoding="ascii") as f:
        f.write(text)
    os.replace(tmp, path)


def main(personality_class, description, argv=None):
    """Run a fake until SIGTERM/SIGINT; exit 0 on a clean stop."""
    args = build_parser(description, personality_class).parse_args(argv)
    if args.port_file and os.path.exists(args.port_file):
        os.unlink(args.port_file)      # a stale file must never look like readiness
    try:
        server = FakeServer(args, personality_class)
    except (OSError, ValueError) as err:
        print("%s: %s" % (personality_class.name, err), file=sys.stderr)
        return 1

    def stop(signum, frame):
        server.stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.pid_file:
        write_atomically(args.pid_file, "%d\n" % os.getpid())
    if args.port_file:
        write_atomically(args.port_file, "%d\n" % server.server_address[1])
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    return 0
