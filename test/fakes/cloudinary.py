#!/usr/bin/env python3
"""Cloudinary Admin API stand-in: list, search and delete over a generated account.

The generated account is never materialised: asset i (0 <= i < --generate) derives
from its index (type from i modulo the type split, uploaded_at spaced --spacing
seconds apart ending --newest-age before start-up), so a million assets cost a few
bytes and a time-range query is a binary search, not a scan. Deleted generated
assets are a set of indexes; assets added through /_control/assets live in a dict.
Pages are keyset cursors (the last key served), so deleting between pages never
skips or repeats an asset. Shapes follow test/fixtures/cloudinary/ (see SOURCES.md).
"""

import base64
import binascii
import hashlib
import heapq
import itertools
import json
import math
import os
import re
import sys
import threading
import time
from collections import OrderedDict
from datetime import datetime, timezone
from urllib.parse import parse_qs, quote

import fakelib

RESOURCE_TYPES = ("image", "video", "raw")
FORMATS = {"image": ("jpg", "png", "webp"), "video": ("mp4", "mov"), "raw": ("txt", "pdf")}
ADMIN, REJECTED = "admin", "rejected"
MAX_RESULTS = 500
MAX_DELETE = 100
LIST_DEFAULT, SEARCH_DEFAULT = 10, 50
CURSOR_KEEP = 200000           # cursors remembered (oldest forgotten first)
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

# What Cloudinary's edge answers to a wrong or missing key/secret: not JSON.
UNAUTHORIZED_PAGE = """<html>
<head><title>401 Authorization Required</title></head>
<body>
<center><h1>401 Authorization Required</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""

ROUTE = re.compile(r"^/v1_1/([^/]+)/resources(?:/(search)|/([^/]+)(?:/([^/]+))?)/?$")


class ApiError(Exception):
    """An answer in Cloudinary's error shape {"error": {"message"}}."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def cld_time(epoch, zulu):
    """Cloudinary's two created_at forms: ...Z and ...+00:00 (whole seconds)."""
    text = datetime.fromtimestamp(int(epoch), timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return text + ("Z" if zulu else "+00:00")


def parse_time(text):
    """An absolute time: "YYYY-MM-DD" (midnight UTC) or ISO 8601 (Z, offset, or none = UTC)."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(400, "Invalid date %r in expression" % text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def time_value(text, now):
    """A bound's value: relative (7d, 12h, 30m, 90s, 2w: that long before now) or absolute."""
    match = re.fullmatch(r"(\d+)([smhdw])", text.strip())
    if match:
        return now - int(match.group(1)) * UNITS[match.group(2)]
    return parse_time(text)


# ------------------------------------------------------------------ queries

class Query:
    """What a listing or search selects and how it orders it.

    lo/hi are (epoch, inclusive) bounds on uploaded_at or None. Keys: by uploaded_at
    (epoch, public_id, type), by public_id (public_id, type); both total orders."""

    def __init__(self):
        self.types = set(RESOURCE_TYPES)
        self.upload = True          # delivery type "upload" selected (the only one stored)
        self.lo = self.hi = None
        self.field = "uploaded_at"
        self.desc = True

    def bound(self, op, value):
        if op in (">", ">="):
            self.lo = tighter(self.lo, (value, op == ">="), max)
        else:
            self.hi = tighter(self.hi, (value, op == "<="), min)

    def in_range(self, epoch):
        lo, hi = self.lo, self.hi
        if lo and (epoch < lo[0] or (epoch == lo[0] and not lo[1])):
            return False
        return not (hi and (epoch > hi[0] or (epoch == hi[0] and not hi[1])))

    def key(self, epoch, public_id, rtype):
        if self.field == "public_id":
            return (public_id, rtype)
        return (epoch, public_id, rtype)

    def signature(self, scope):
        return json.dumps([scope, sorted(self.types), self.upload, self.lo, self.hi, self.field, self.desc])


def tighter(old, new, pick):
    """The narrower of two bounds; at equal values the exclusive one."""
    if old is None:
        return new
    if old[0] != new[0]:
        return old if pick(old[0], new[0]) == old[0] else new
    return (old[0], old[1] and new[1])


def parse_expression(text, now):
    """The Search API expression forms a client needs, joined with AND; anything else is a 400."""
    query = Query()
    text = (text or "").strip()
    if not text:
        return query
    if re.search(r"\b(OR|NOT)\b|[()]", text):
        raise ApiError(400, "Unsupported expression %r: the stand-in knows terms joined with AND only" % text)
    for term in re.split(r"\s+AND\s+", text):
        parse_term(query, term.strip(), now)
    return query


def parse_term(query, term, now):
    match = re.fullmatch(r'(resource_type|type)\s*[:=]\s*("?)([A-Za-z_]+)\2', term)
    if match:
        value = match.group(3)
        if match.group(1) == "resource_type":
            if value not in RESOURCE_TYPES:
                raise ApiError(400, "Invalid resource_type %r in expression" % value)
            query.types &= {value}
        else:
            query.upload = query.upload and value == "upload"
        return
    match = re.fullmatch(r"(uploaded_at|created_at)\s*(>=|<=|>|<|:|=)\s*(.+)", term, re.S)
    if not match:
        raise ApiError(400, "Unsupported expression term %r (the stand-in knows resource_type, type, "
                            "uploaded_at, created_at joined with AND)" % term)
    op, value = match.group(2), match.group(3).strip()
    if op in (">", ">=", "<", "<="):
        query.bound(op, time_value(value, now))
        return
    match = re.fullmatch(r"([\[{])\s*(\S+)\s+TO\s+(\S+)\s*([\]}])", value)
    if not match:
        raise ApiError(400, "Unsupported expression term %r: use >, >=, <, <= or a [a TO b] range" % term)
    if match.group(2) != "*":
        query.bound(">=" if match.group(1) == "[" else ">", time_value(match.group(2), now))
    if match.group(3) != "*":
        query.bound("<=" if match.group(4) == "]" else "<", time_value(match.group(3), now))


def parse_sort(value, query):
    """sort_by: [{"uploaded_at": "asc"}] (created_at, public_id too); an optional second
    {"public_id": same direction} is the stand-in's tie-break anyway."""
    if value in (None, []):
        return
    if not isinstance(value, list) or not all(isinstance(s, dict) and len(s) == 1 for s in value) or len(value) > 2:
        raise ApiError(400, "sort_by must be a list of {field: direction}")
    (field, direction), = value[0].items()
    if field not in ("uploaded_at", "created_at", "public_id") or direction not in ("asc", "desc"):
        raise ApiError(400, "Unsupported sort_by %r" % (value[0],))
    if len(value) == 2 and value[1] != {"public_id": direction}:
        raise ApiError(400, "Unsupported second sort_by %r" % (value[1],))
    query.field = "public_id" if field == "public_id" else "uploaded_at"
    query.desc = direction == "desc"


# ------------------------------------------------------------------ account

class Account:
    """The generated assets (by index) plus the added ones, under one lock."""

    def __init__(self, args):
        self.cloud = args.cloud
        self.n = args.generate
        self.weights = dict(zip(RESOURCE_TYPES, args.type_split))
        self.period = sum(args.type_split)
        self.offsets, start = {}, 0
        for rtype in RESOURCE_TYPES:
            self.offsets[rtype], start = start, start + self.weights[rtype]
        self.spacing = args.spacing
        self.newest = int(time.time()) - args.newest_age      # uploaded_at of asset n-1
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.deleted_gen = set()           # generated indexes deleted
        self.added = {}                    # (type, public_id) -> record
        self.added_seq = 0
        self.deleted_log = []              # {"resource_type", "public_id", "n"} in deletion order

    # ---- generated assets

    def count(self, rtype, n=None):
        """How many generated indexes below n (default all) are of rtype."""
        n = self.n if n is None else n
        w, off = self.weights[rtype], self.offsets[rtype]
        return (n // self.period) * w + min(max(n % self.period - off, 0), w)

    def index(self, rtype, k):
        w = self.weights[rtype]
        return (k // w) * self.period + self.offsets[rtype] + k % w

    def epoch(self, i):
        return self.newest - (self.n - 1 - i) * self.spacing

    def gen_public_id(self, rtype, i):
        return "gen/%s/%07d" % (rtype, i)

    def gen_index(self, rtype, public_id):
        """The index behind a generated public_id of rtype, or None."""
        match = re.fullmatch(r"gen/([a-z]+)/(\d{7})", public_id)
        if not match or match.group(1) != rtype:
            return None
        i = int(match.group(2))
        if i >= self.n or self.index(rtype, self.count(rtype, i)) != i:
            return None
        return i

    def gen_record(self, rtype, k):
        i = self.index(rtype, k)
        fmt = FORMATS[rtype][i % len(FORMATS[rtype])]
        return self.record(rtype, self.gen_public_id(rtype, i), self.epoch(i), 1000 + (i * 7919) % 1000000,
                           fmt, k % 2 == 0)

    def gen_stream(self, query, rtype, after):
        """(key, ref) of generated assets of rtype in the query's range, after the cursor key, in order."""
        first, end = self.gen_bounds(query, rtype)

        def key_of(k):
            i = self.index(rtype, k)
            return query.key(self.epoch(i), self.gen_public_id(rtype, i), rtype)

        if after is not None:
            total = self.count(rtype)
            if query.desc:
                end = min(end, self.search_k(total, lambda k: key_of(k) >= after))
            else:
                first = max(first, self.search_k(total, lambda k: key_of(k) > after))
        for k in (range(end - 1, first - 1, -1) if query.desc else range(first, end)):
            if self.index(rtype, k) not in self.deleted_gen:
                yield key_of(k), ("gen", rtype, k)

    def gen_count(self, query, rtype):
        """Generated assets of rtype in range, minus the deleted ones (arithmetic plus the deleted set)."""
        first, end = self.gen_bounds(query, rtype)
        gone = sum(1 for i in self.deleted_gen if self.type_of(i) == rtype and query.in_range(self.epoch(i)))
        return end - first - gone

    def gen_bounds(self, query, rtype):
        total = self.count(rtype)
        epoch = lambda k: self.epoch(self.index(rtype, k))
        lo_ok = lambda e: not query.lo or e > query.lo[0] or (e == query.lo[0] and query.lo[1])
        hi_bad = lambda e: query.hi and (e > query.hi[0] or (e == query.hi[0] and not query.hi[1]))
        first = self.search_k(total, lambda k: lo_ok(epoch(k)))
        end = self.search_k(total, lambda k: bool(hi_bad(epoch(k))))
        return first, max(first, end)

    def type_of(self, i):
        pos = i % self.period
        for rtype in RESOURCE_TYPES:
            if self.offsets[rtype] <= pos < self.offsets[rtype] + self.weights[rtype]:
                return rtype
        raise AssertionError(i)

    @staticmethod
    def search_k(total, pred):
        """The first k in [0, total) where the monotonic pred holds (total if none)."""
        lo, hi = 0, total
        while lo < hi:
            mid = (lo + hi) // 2
            if pred(mid):
                hi = mid
            else:
                lo = mid + 1
        return lo

    # ---- records

    def record(self, rtype, public_id, epoch, size, fmt, zulu):
        """One resource as the list endpoint shows it (keys in the fixture's order)."""
        version = int(epoch)
        path = "%s/upload/v%d/%s%s" % (rtype, version, quote(public_id, safe="/"), "." + fmt if fmt else "")
        rec = {
            "asset_id": hashlib.md5(("%s/%s" % (rtype, public_id)).encode("utf-8", "surrogatepass")).hexdigest(),
            "public_id": public_id,
        }
        if fmt:
            rec["format"] = fmt
        rec.update({"version": version, "resource_type": rtype, "type": "upload",
                    "created_at": cld_time(epoch, zulu), "bytes": size})
        if rtype != "raw":
            rec["width"], rec["height"] = 640 + version % 7 * 80, 480 + version % 5 * 60
        rec.update({"asset_folder": "", "display_name": public_id.rsplit("/", 1)[-1],
                    "url": "http://res.cloudinary.com/%s/%s" % (self.cloud, path),
                    "secure_url": "https://res.cloudinary.com/%s/%s" % (self.cloud, path)})
        return rec

    def check(self, spec, now):
        """A control spec checked: (type, public_id, epoch, bytes, format, form); ValueError on a bad one."""
        if not isinstance(spec, dict):
            raise ValueError("an asset is a JSON object")
        public_id, rtype = spec.get("public_id"), spec.get("resource_type", "image")
        if not isinstance(public_id, str) or not public_id:
            raise ValueError("public_id must be a non-empty string")
        if rtype not in RESOURCE_TYPES:
            raise ValueError("resource_type must be one of " + ", ".join(RESOURCE_TYPES))
        if public_id.startswith("gen/"):
            raise ValueError("public_ids under gen/ belong to the generated account")
        if spec.get("type", "upload") != "upload":
            raise ValueError('only type "upload" is stored')
        if "uploaded_at" in spec:
            epoch = parse_time(str(spec["uploaded_at"]))
        else:
            age = spec.get("age", 0)
            if isinstance(age, bool) or not isinstance(age, (int, float)) or age < 0:
                raise ValueError("age must be a non-negative number of seconds")
            epoch = now - age
        size = spec.get("bytes", 1234)
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError("bytes must be a non-negative integer")
        fmt = spec.get("format", FORMATS[rtype][0])
        if fmt is not None and not isinstance(fmt, str):
            raise ValueError("format must be a string or null")
        form = spec.get("created_at_form")
        if form not in (None, "Z", "+00:00"):
            raise ValueError('created_at_form must be "Z" or "+00:00"')
        return rtype, public_id, int(epoch), size, fmt, form

    def add(self, checked):
        """Add (or replace) one checked asset; its record as listed."""
        rtype, public_id, epoch, size, fmt, form = checked
        with self.lock:
            zulu = self.added_seq % 2 == 0 if form is None else form == "Z"
            self.added_seq += 1
            record = self.record(rtype, public_id, epoch, size, fmt, zulu)
            self.added[(rtype, public_id)] = {"epoch": epoch, "record": record}
        return record

    def added_stream(self, query, rtype, after):
        items = [(query.key(a["epoch"], pid, rtype), ("added", rtype, pid))
                 for (t, pid), a in self.added.items() if t == rtype and query.in_range(a["epoch"])]
        items.sort(reverse=query.desc)
        if after is not None:
            items = [it for it in items if (it[0] < after if query.desc else it[0] > after)]
        return items

    def materialise(self, ref, with_uploaded):
        kind, rtype, ident = ref
        if kind == "gen":
            rec = self.gen_record(rtype, ident)
        else:
            rec = dict(self.added[(rtype, ident)]["record"])
        if with_uploaded:
            rec["uploaded_at"] = rec["created_at"]
        return rec

    # ---- pages

    def page(self, query, after, limit, with_uploaded):
        """Up to limit records after the cursor key; (records, last key or None when no more)."""
        with self.lock:
            if not query.upload:
                return [], None
            streams = []
            for rtype in sorted(query.types):
                streams.append(self.gen_stream(query, rtype, after))
                streams.append(iter(self.added_stream(query, rtype, after)))
            merged = heapq.merge(*streams, key=lambda item: item[0], reverse=query.desc)
            taken = list(itertools.islice(merged, limit + 1))
            more = len(taken) > limit
            taken = taken[:limit]
            records = [self.materialise(ref, with_uploaded) for _, ref in taken]
            return records, (taken[-1][0] if more else None)

    def total(self, query):
        with self.lock:
            if not query.upload:
                return 0
            return sum(self.gen_count(query, t) + len(self.added_stream(query, t, None)) for t in query.types)

    # ---- deletes

    def delete(self, rtype, public_ids, failing, number):
        """Delete what exists; ids in `failing` are left alone. {id: "deleted"|"not_found"} for the rest."""
        result = {}
        with self.lock:
            for public_id in public_ids:
                if public_id in failing or public_id in result:
                    continue
                result[public_id] = "deleted" if self.remove(rtype, public_id) else "not_found"
                if result[public_id] == "deleted":
                    self.deleted_log.append({"resource_type": rtype, "public_id": public_id, "n": number})
        return result

    def remove(self, rtype, public_id):
        if self.added.pop((rtype, public_id), None) is not None:
            return True
        i = self.gen_index(rtype, public_id)
        if i is None or i in self.deleted_gen:
            return False
        self.deleted_gen.add(i)
        return True

    def exists(self, rtype, public_id):
        with self.lock:
            if (rtype, public_id) in self.added:
                return True
            i = self.gen_index(rtype, public_id)
            return i is not None and i not in self.deleted_gen

    def summary(self):
        with self.lock:
            deleted = {t: sum(1 for i in self.deleted_gen if self.type_of(i) == t) for t in RESOURCE_TYPES}
            return {
                "cloud": self.cloud,
                "generated": {t: self.count(t) for t in RESOURCE_TYPES},
                "generated_deleted": deleted,
                "added": {t: sum(1 for (rt, _) in self.added if rt == t) for t in RESOURCE_TYPES},
                "existing": {t: self.count(t) - deleted[t] + sum(1 for (rt, _) in self.added if rt == t)
                             for t in RESOURCE_TYPES},
                "newest_generated": cld_time(self.newest, True) if self.n else None,
                "spacing": self.spacing,
                "deleted_total": len(self.deleted_log),
            }


# ------------------------------------------------------------------ cursors

class Cursors:
    """Opaque 40-hex tokens standing for (query signature, last key served)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.tokens = OrderedDict()

    def issue(self, signature, key):
        token = binascii.hexlify(os.urandom(20)).decode()
        with self.lock:
            self.tokens[token] = (signature, key)
            while len(self.tokens) > CURSOR_KEEP:
                self.tokens.popitem(last=False)
        return token

    def resolve(self, signature, token):
        with self.lock:
            entry = self.tokens.get(token)
        if entry is None or entry[0] != signature:
            raise ApiError(400, "Invalid next_cursor")
        return entry[1]

    def expire(self):
        with self.lock:
            count = len(self.tokens)
            self.tokens.clear()
        return count


# -------------------------------------------------------------- personality

def public_ids_of(request):
    """public_ids[] (or public_ids) from the query string, a form body or a JSON body."""
    ids = list(request.query.get("public_ids[]", [])) + list(request.query.get("public_ids", []))
    body = request.body or b""
    ctype = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if body and ctype == "application/json":
        try:
            value = json.loads(body).get("public_ids", [])
        except (ValueError, AttributeError):
            raise ApiError(400, "Invalid JSON body")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ApiError(400, "public_ids must be a list of strings")
        ids += value
    elif body:
        form = parse_qs(body.decode("utf-8", "surrogateescape"), keep_blank_values=True)
        ids += form.get("public_ids[]", []) + form.get("public_ids", [])
    return ids


def json_body(request):
    if not request.body:
        return {}
    try:
        value = json.loads(request.body)
    except ValueError:
        raise ApiError(400, "Invalid JSON body")
    if not isinstance(value, dict):
        raise ApiError(400, "The body must be a JSON object")
    return value


def cloud_of(path):
    """The cloud name of /v1_1/<cloud>/..., or ""."""
    parts = path.split("/")
    return parts[2] if len(parts) > 3 and parts[1] == "v1_1" else ""


def type_split(text):
    parts = [int(p) for p in text.split(",")]
    if len(parts) != 3 or any(p < 0 for p in parts) or sum(parts) == 0:
        raise ValueError("--type-split is three non-negative weights image,video,raw")
    return parts


class Cloudinary(fakelib.Personality):
    name = "cloudinary"
    rate_convention = "cloudinary"

    @staticmethod
    def add_arguments(group):
        group.add_argument("--cloud", default="test-cloud", help="the only cloud name served")
        group.add_argument("--api-key", default="test-key", help="Basic auth user")
        group.add_argument("--api-secret", default="test-secret", help="Basic auth password (never logged)")
        group.add_argument("--hourly-limit", type=int, default=500,
                           help="Admin API calls per window (--window-seconds, default 3600)")
        group.add_argument("--generate", type=int, default=0, help="generated assets (up to 1,000,000 tested)")
        group.add_argument("--type-split", type=type_split, default=[7, 2, 1],
                           help="weights image,video,raw of the generated assets (default 7,2,1)")
        group.add_argument("--spacing", type=int, default=60, help="seconds between generated uploads")
        group.add_argument("--newest-age", type=int, default=7200,
                           help="age in seconds of the newest generated asset at start-up")

    def __init__(self, args, server):
        super().__init__(args, server)
        if args.spacing < 1 or args.generate < 0 or args.newest_age < 0 or args.hourly_limit < 0:
            raise ValueError("--spacing must be >= 1; --generate, --newest-age, --hourly-limit >= 0")
        self.account = Account(args)
        self.cursors = Cursors()
        self.partial = []                  # armed partial-delete specs, first first
        self.partial_lock = threading.Lock()
        server.ledger.set_rules({ADMIN: {"window_limit": args.hourly_limit}, REJECTED: {"window_limit": 0}})

    # ---- buckets and auth (decided before faults and the rate limit)

    def bucket_for(self, request):
        """Authenticated calls of the account count in "admin"; the rest in "rejected" (no window)."""
        request.cld_cloud_ok = cloud_of(request.path) == self.args.cloud
        request.auth_ok = self.credentials_ok(request)
        return ADMIN if request.cld_cloud_ok and request.auth_ok else REJECTED

    def credentials_ok(self, request):
        header = request.headers.get("Authorization") or ""
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return bool(sep) and user == self.args.api_key and password == self.args.api_secret

    def rate_limit_body(self, status):
        """Cloudinary's over-limit message, with the window's limit and reset as it words them."""
        limit, _, reset_in = self.server.ledger.window_state(ADMIN, time.monotonic())
        reset = datetime.fromtimestamp(math.ceil(time.time() + reset_in), timezone.utc)
        message = "Rate Limit Exceeded. Limit of %d api operations reached. Try again on %s UTC" % (
            limit, reset.strftime("%Y-%m-%d %H:%M:%S"))
        return fakelib.json_response({"error": {"message": message}}, status)

    def log_fields(self, request):
        """resource_type, the public_ids count of a delete, the expression of a search."""
        fields = {"cloud_ok": getattr(request, "cld_cloud_ok", None)}
        match = ROUTE.match(request.path)
        if not match:
            return fields
        if match.group(2):
            try:
                expression = json_body(request).get("expression")
            except ApiError:
                expression = None
            fields["expression"] = expression
        else:
            fields["resource_type"] = match.group(3)
            if request.method == "DELETE":
                try:
                    fields["public_ids"] = len(public_ids_of(request))
                except ApiError:
                    fields["public_ids"] = None
        return fields

    # ---- API

    def handle(self, request):
        match = ROUTE.match(request.path)
        cloud = cloud_of(request.path)
        if not cloud:
            return fakelib.json_response({"error": {"message": "Resource not found"}}, 404)
        if cloud != self.args.cloud:
            return fakelib.json_response({"error": {"message": "Invalid cloud_name %s" % cloud}}, 401)
        if not request.auth_ok:
            return fakelib.html_response(401, UNAUTHORIZED_PAGE)
        try:
            if match is None:
                raise ApiError(404, "Resource not found")
            if match.group(2):
                if request.method != "POST":
                    raise ApiError(404, "Resource not found")
                return fakelib.json_response(self.search(request))
            rtype, dtype = match.group(3), match.group(4) or "upload"
            if rtype not in RESOURCE_TYPES:
                raise ApiError(400, "Invalid resource_type %s" % rtype)
            if request.method == "GET":
                return fakelib.json_response(self.listing(request, rtype, dtype))
            if request.method == "DELETE":
                return fakelib.json_response(self.delete(request, rtype, dtype))
            raise ApiError(404, "Resource not found")
        except (ApiError, fakelib.PagingError) as err:
            return fakelib.json_response({"error": {"message": str(err)}}, getattr(err, "status", 400))

    def listing(self, request, rtype, dtype):
        """GET resources/<type>/upload: by created_at, direction desc (default) or asc, start_at."""
        query = Query()
        query.types = {rtype}
        query.upload = dtype == "upload"
        if request.param("prefix") is not None or request.param("public_ids[]") is not None:
            raise ApiError(400, "prefix and public_ids listings are not supported by the stand-in")
        direction = request.param("direction", "desc")
        if direction not in ("asc", "desc", "1", "-1"):
            raise ApiError(400, "Invalid direction %s" % direction)
        query.desc = direction in ("desc", "-1")
        if request.param("start_at"):
            query.bound(">=", parse_time(request.param("start_at")))
        limit = fakelib.int_param(request, "max_results", LIST_DEFAULT, 1, MAX_RESULTS)
        return self.serve_page(query, "list", request.param("next_cursor"), limit, False, None)

    def search(self, request):
        body = json_body(request)
        expression = body.get("expression")
        if expression is not None and not isinstance(expression, str):
            raise ApiError(400, "expression must be a string")
        query = parse_expression(expression, time.time())
        parse_sort(body.get("sort_by"), query)
        limit = body.get("max_results", SEARCH_DEFAULT)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_RESULTS:
            raise ApiError(400, "max_results must be between 1 and %d" % MAX_RESULTS)
        started = time.monotonic()
        page = self.serve_page(query, "search", body.get("next_cursor"), limit, True, expression)
        answer = {"total_count": self.account.total(query),
                  "time": int((time.monotonic() - started) * 1000)}
        if "next_cursor" in page:
            answer["next_cursor"] = page["next_cursor"]
        answer["resources"] = page["resources"]
        return answer

    def serve_page(self, query, scope, cursor, limit, with_uploaded, expression):
        """One page after the cursor's key; a next_cursor when more remain."""
        signature = self.signature(scope, query, expression)
        after = self.cursors.resolve(signature, cursor) if cursor else None
        records, last = self.account.page(query, after, limit, with_uploaded)
        page = {"resources": records}
        if last is not None:
            page["next_cursor"] = self.cursors.issue(signature, last)
        return page

    @staticmethod
    def signature(scope, query, expression):
        """What a cursor is valid for: the listing's parameters, or the search's expression text
        (relative times move with the clock, so the text is compared, not the bounds)."""
        if scope == "search":
            return json.dumps([scope, expression, query.field, query.desc])
        return query.signature(scope)

    def delete(self, request, rtype, dtype):
        ids = public_ids_of(request)
        if not ids:
            raise ApiError(400, "Missing required parameter - public_ids")
        if len(ids) > MAX_DELETE:
            raise ApiError(400, "Too many public_ids (%d): at most %d per call" % (len(ids), MAX_DELETE))
        unique = list(dict.fromkeys(ids))
        spec = self.take_partial(rtype, unique)
        failing = set()
        if spec is not None:
            failing = set(spec["ids"]) & set(unique) if spec["ids"] else set(unique[-spec["fail"]:])
        if dtype == "upload":
            result = self.account.delete(rtype, ids, failing, request.number)
        else:
            result = {pid: "not_found" for pid in ids if pid not in failing}
        deleted = {}
        for pid in unique:
            if pid in result:
                deleted[pid] = result[pid]
            elif spec is not None and spec["value"] is not None:
                deleted[pid] = spec["value"]
        counts = {pid: {"original": int(v == "deleted"), "derived": 0} for pid, v in deleted.items()
                  if v in ("deleted", "not_found")}
        return {"deleted": deleted, "deleted_counts": counts, "partial": bool(failing)}

    def take_partial(self, rtype, ids):
        """The first armed partial spec for this delete (its type; its ids, when it names some)."""
        with self.partial_lock:
            for spec in self.partial:
                if spec["resource_type"] in (None, rtype) and (not spec["ids"] or set(spec["ids"]) & set(ids)):
                    spec["count"] -= 1
                    if spec["count"] == 0:
                        self.partial.remove(spec)
                    return spec
        return None

    # ---- controls

    def control(self, request):
        route = (request.method, request.path.rstrip("/"))
        handlers = {
            ("GET", "/_control/account"): lambda: self.account.summary(),
            ("POST", "/_control/account/reset"): self.reset_account,
            ("POST", "/_control/assets"): lambda: self.add_assets(request),
            ("GET", "/_control/assets"): lambda: self.list_added(),
            ("POST", "/_control/exists"): lambda: self.exists(request),
            ("GET", "/_control/deleted"): lambda: {"deleted": list(self.account.deleted_log)},
            ("POST", "/_control/cursors/expire"): lambda: {"ok": True, "expired": self.cursors.expire()},
            ("POST", "/_control/partial"): lambda: self.arm_partial(request),
        }
        handler = handlers.get(route)
        if handler is None:
            return None
        try:
            return fakelib.json_response(handler())
        except ValueError as err:
            return fakelib.json_response({"error": str(err)}, 400)

    def reset_account(self):
        with self.account.lock:
            self.account.reset()
        with self.partial_lock:
            self.partial.clear()
        self.cursors.expire()
        return {"ok": True}

    def add_assets(self, request):
        specs = json.loads(request.body or b"null")
        specs = specs if isinstance(specs, list) else [specs]
        now = time.time()
        checked = [self.account.check(spec, now) for spec in specs]      # all or nothing
        added = [self.account.add(c) for c in checked]
        return {"ok": True, "added": added}

    def list_added(self):
        with self.account.lock:
            assets = [dict(a["record"]) for a in self.account.added.values()]
        assets.sort(key=lambda r: (r["resource_type"], r["public_id"]))
        return {"assets": assets}

    def exists(self, request):
        body = json.loads(request.body or b"null")
        if not isinstance(body, dict) or body.get("resource_type", "image") not in RESOURCE_TYPES or \
                not isinstance(body.get("public_ids"), list):
            raise ValueError('body must be {"resource_type": "image", "public_ids": [...]}')
        rtype = body.get("resource_type", "image")
        return {"exists": {pid: self.account.exists(rtype, pid) for pid in body["public_ids"]}}

    def arm_partial(self, request):
        spec = json.loads(request.body or b"{}")
        if not isinstance(spec, dict):
            raise ValueError("a partial spec is a JSON object")
        checked = {
            "count": spec.get("count", 1), "fail": spec.get("fail", 1), "ids": spec.get("ids"),
            "value": spec.get("value"), "resource_type": spec.get("resource_type"),
        }
        if not isinstance(checked["count"], int) or checked["count"] < 1:
            raise ValueError("count must be a positive integer")
        if not isinstance(checked["fail"], int) or checked["fail"] < 1:
            raise ValueError("fail must be a positive integer")
        if checked["ids"] is not None and (not isinstance(checked["ids"], list) or
                                           not all(isinstance(i, str) for i in checked["ids"])):
            raise ValueError("ids must be a list of public_ids")
        if checked["value"] is not None and not isinstance(checked["value"], str):
            raise ValueError("value must be a string or null")
        if checked["resource_type"] not in (None,) + RESOURCE_TYPES:
            raise ValueError("resource_type must be one of " + ", ".join(RESOURCE_TYPES))
        with self.partial_lock:
            self.partial.append(checked)
            pending = sum(s["count"] for s in self.partial)
        return {"ok": True, "partial_pending": pending}


if __name__ == "__main__":
    sys.exit(fakelib.main(Cloudinary, __doc__.splitlines()[0]))
