#!/usr/bin/env python3
"""ComicVine stand-in: the real envelope and field formats over a deterministic dataset.

The dataset is never materialised: every volume is derived on demand from a
hash of (seed, id), and its issues from the volume, so 130,000 volumes cost
nothing at start-up and any test can recompute what the fake serves.
Shapes and key order follow test/fixtures/comicvine/ (real API responses).
"""

import functools
import json
import random
import re
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone

import fakelib

SITE = "https://comicvine.gamespot.com"
API = SITE + "/api"
VOLUME_TYPE, ISSUE_TYPE, PUBLISHER_TYPE = "4050", "4000", "4010"
ISSUES_PER_VOLUME_ID = 100            # issue id = volume id * 100 + k
MAX_IDS = 100
MAX_LIMIT = 100

ADDED_FROM = int(datetime(2008, 6, 6, tzinfo=timezone.utc).timestamp())
ADDED_UNTIL = int(datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp())
UPDATED_UNTIL = int(datetime(2025, 6, 1, tzinfo=timezone.utc).timestamp())
FIRST_YEAR = 1940
THIS_YEAR = datetime.now(timezone.utc).year

ADJECTIVES = ("Amazing", "Uncanny", "Dark", "Savage", "Mighty", "Strange", "Secret",
              "Infinite", "Weird", "Astonishing", "Silver", "Atomic", "Lost", "Wild")
NOUNS = ("Tales", "Knights", "Detective", "Adventures", "Warriors", "Mysteries", "Legion",
         "Saga", "Chronicles", "Comics", "Stories", "Avengers", "Patrol", "Frontier")
PUBLISHERS = ((10, "DC Comics"), (31, "Marvel"), (364, "Dark Horse Comics"), (513, "Image"),
              (1190, "IDW Publishing"), (75, "Atlas"), (5, "United Features"), (2146, "BOOM! Studios"))
IMAGE_KINDS = (("icon_url", "square_avatar"), ("medium_url", "scale_medium"),
               ("screen_url", "screen_medium"), ("screen_large_url", "screen_kubrick"),
               ("small_url", "scale_small"), ("super_url", "scale_large"),
               ("thumb_url", "scale_avatar"), ("tiny_url", "square_mini"),
               ("original_url", "original"))

# Hostile volumes (--hostile-ids): every one gets these; README lists them.
HOSTILE_NAME = ('Hostile %d: "double" \'single\' back\\slash\ttab\nnewline \\N, comma '
                '\U0001F600 <b>bold</b>')
HOSTILE_DECK = "0123456789" * 1000
HOSTILE_PUBLISHER = {"api_detail_url": API + "/publisher/4010-666/", "id": 666,
                     "name": "Pub nul\x00 lone\ud800 pair\ud83d\ude00 <i>x</i>"}
HOSTILE_ALIASES = "first\r\nsecond\nthird"
HOSTILE_DESCRIPTION = '<p>Hostile <script>alert("x")</script> &amp; <a href="/x">link</a></p>'

NOT_FOUND_PAGE = "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>" \
                 "<body><h1>Page Not Found</h1></body></html>\n"


# ------------------------------------------------------------------ helpers

def cv_time(epoch):
    """ComicVine's 'YYYY-MM-DD HH:MM:SS' without a zone (the fake's clock is UTC)."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def image_urls(key):
    urls = {name: "%s/a/uploads/%s/fake/%s.jpg" % (SITE, kind, key) for name, kind in IMAGE_KINDS}
    urls["image_tags"] = "All Images"
    return urls


def envelope(results, limit, offset, total, status_code=1, error="OK"):
    """The list/detail envelope, key order as in the fixtures."""
    page = len(results) if isinstance(results, list) else 1
    return {"error": error, "limit": limit, "offset": offset, "number_of_page_results": page,
            "number_of_total_results": total, "status_code": status_code,
            "results": results, "version": "1.0"}


def error_envelope(status_code, error):
    return {"error": error, "limit": 0, "offset": 0, "number_of_page_results": 0,
            "number_of_total_results": 0, "status_code": status_code, "results": []}


class ApiError(Exception):
    """A ComicVine status_code answer; ComicVine sends these with HTTP 200."""

    def __init__(self, status_code, error):
        super().__init__(error)
        self.status_code, self.error = status_code, error


def id_list(text):
    """'1|2|3' -> [1, 2, 3]; ComicVine's multi-value filter syntax."""
    try:
        ids = [int(part) for part in text.split("|") if part != ""]
    except ValueError:
        raise ApiError(104, "Filter Error")
    if not ids or len(ids) > MAX_IDS:
        raise ApiError(104, "Filter Error")
    return ids


def parse_bound(text, end_of_day):
    """A range bound: 'YYYY-MM-DD' (whole day, inclusive) or 'YYYY-MM-DD HH:MM:SS'."""
    if text == "":
        return None
    try:
        if len(text) == 10:
            day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)
            return int(day.timestamp()) + (86399 if end_of_day else 0)
        return int(datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp())
    except ValueError:
        raise ApiError(104, "Filter Error")


def date_range(text):
    start, _, end = text.partition("|")
    return parse_bound(start, False), parse_bound(end, True)


def in_range(epoch, bounds):
    start, end = bounds
    return epoch is not None and (start is None or epoch >= start) and (end is None or epoch <= end)


def parse_filter(text, allowed):
    """'field:value,field:value' -> dict; unknown fields are a 104 like a bad filter."""
    filters = {}
    for clause in (text or "").split(","):
        if not clause:
            continue
        field, sep, value = clause.partition(":")
        if not sep or field not in allowed:
            raise ApiError(104, "Filter Error")
        filters[field] = value
    return filters


def parse_sort(text):
    field, _, direction = (text or "id:asc").partition(":")
    if field not in ("id", "date_last_updated") or direction not in ("", "asc", "desc"):
        raise ApiError(104, "Filter Error")
    return field, direction == "desc"


def parse_paging(request):
    try:
        limit = int(request.param("limit") or MAX_LIMIT)
        offset = int(request.param("offset") or 0)
    except ValueError:
        raise ApiError(102, "Error in URL Format")
    if limit < 1 or offset < 0:
        raise ApiError(102, "Error in URL Format")
    return min(limit, MAX_LIMIT), offset


def project(record, field_list):
    """Apply field_list: keep only the named keys (unknown names are ignored, as ComicVine does)."""
    if not field_list:
        return record
    wanted = set(field_list.split(","))
    return {k: v for k, v in record.items() if k in wanted}


def sort_key(field, dlu_of):
    """Sort by id, or by date_last_updated (nulls first) then id."""
    if field == "id":
        return lambda ident: ident
    return lambda ident: (dlu_of(ident) or 0, ident)


# ------------------------------------------------------------------ dataset

@functools.lru_cache(maxsize=1 << 18)
def volume_core(seed, vid):
    """The hash-derived facts of one volume; cached because sorting and counting reuse them."""
    rng = random.Random("cv-volume:%d:%d" % (seed, vid))
    name = "%s %s" % (rng.choice(ADJECTIVES), rng.choice(NOUNS))
    if rng.random() < 0.3:
        name += " %d" % rng.randint(2, 9)
    draw = rng.random()
    start_year = "" if draw < 0.03 else None if draw < 0.05 else str(rng.randint(FIRST_YEAR, THIS_YEAR))
    count = min(60, int(rng.expovariate(1 / 7.5)))     # floor of exp(mean 7.5): mean ~7
    publisher = None if rng.random() < 0.05 else rng.choice(PUBLISHERS)
    added = rng.randrange(ADDED_FROM, ADDED_UNTIL)
    updated = rng.randrange(added, UPDATED_UNTIL)
    deck = "Volume %d." % rng.randint(1, 4) if rng.random() < 0.2 else None
    aliases = name.upper() + "\r\n" + name.lower() if rng.random() < 0.1 else None
    return name, start_year, count, publisher, added, updated, deck, aliases


class Dataset:
    """Volumes 1..N and their issues, plus run-time changes (touch, delete)."""

    def __init__(self, seed, volumes, omit, deleted, hostile):
        self.seed = seed
        self.size = volumes
        self.omit = frozenset(omit)
        self.hostile = frozenset(hostile)
        self.deleted = set(deleted)
        self.touched = {}            # volume id -> epoch of the last touch
        self.lock = threading.Lock()

    # ---- membership

    def in_range(self, vid):
        return 1 <= vid <= self.size

    def exists(self, vid):
        """Servable on its detail path (omitted volumes are, deleted ones are not)."""
        return self.in_range(vid) and vid not in self.deleted

    def listed(self, vid):
        """Returned by /volumes/ list answers."""
        return self.exists(vid) and vid not in self.omit

    def state(self, vid):
        for label, ids in (("deleted", self.deleted), ("omitted", self.omit), ("hostile", self.hostile)):
            if vid in ids:
                return label
        return "normal"

    def delete(self, vid):
        with self.lock:
            self.deleted.add(vid)

    def touch(self, vid):
        with self.lock:
            self.touched[vid] = int(time.time())
        return self.touched[vid]

    # ---- volumes

    def issue_count(self, vid):
        """Issues that exist (also for hostile volumes, whose count_of_issues says null)."""
        return volume_core(self.seed, vid)[2]

    def volume_updated(self, vid):
        if vid in self.touched:
            return self.touched[vid]
        if vid in self.hostile:
            return None
        return volume_core(self.seed, vid)[5]

    def volume_name(self, vid):
        return HOSTILE_NAME % vid if vid in self.hostile else volume_core(self.seed, vid)[0]

    def volume(self, vid):
        """The /volumes/ list item (all fields, keys in the fixture's order)."""
        name, start_year, count, publisher, added, _, deck, aliases = volume_core(self.seed, vid)
        record = {
            "aliases": aliases,
            "api_detail_url": "%s/volume/%s-%d/" % (API, VOLUME_TYPE, vid),
            "count_of_issues": count,
            "date_added": cv_time(added),
            "date_last_updated": cv_time(self.volume_updated(vid)),
            "deck": deck,
            "description": "<p>%s is a generated series for tests.</p>" % name,
            "first_issue": self.issue_ref(vid, 1) if count else None,
            "id": vid,
            "image": image_urls("volume-%d" % vid),
            "last_issue": self.issue_ref(vid, count) if count else None,
            "name": self.volume_name(vid),
            "publisher": self.publisher_ref(publisher),
            "site_detail_url": "%s/%s/%s-%d/" % (SITE, slug(name), VOLUME_TYPE, vid),
            "start_year": start_year,
        }
        if vid in self.hostile:
            record.update(self.hostile_fields(vid))
        return record

    @staticmethod
    def hostile_fields(vid):
        return {
            "aliases": HOSTILE_ALIASES, "count_of_issues": None, "deck": HOSTILE_DECK,
            "description": HOSTILE_DESCRIPTION, "publisher": dict(HOSTILE_PUBLISHER),
            "start_year": "" if vid % 2 == 0 else "19x7",
        }

    def volume_detail(self, vid):
        """Detail adds the related lists; alphabetical like the fixture."""
        record = self.volume(vid)
        record["characters"], record["objects"], record["people"] = [], [], []
        record["issues"] = [self.issue_ref(vid, k, site=True) for k in range(1, self.issue_count(vid) + 1)]
        return dict(sorted(record.items()))

    @staticmethod
    def publisher_ref(publisher):
        if publisher is None:
            return None
        pid, name = publisher
        return {"api_detail_url": "%s/publisher/%s-%d/" % (API, PUBLISHER_TYPE, pid), "id": pid, "name": name}

    # ---- issues

    def issue_ref(self, vid, k, site=False):
        iid = vid * ISSUES_PER_VOLUME_ID + k
        ref = {"api_detail_url": "%s/issue/%s-%d/" % (API, ISSUE_TYPE, iid), "id": iid,
               "name": self.issue_name(iid)}
        if site:
            ref["site_detail_url"] = self.issue_site_url(vid, iid)
        ref["issue_number"] = str(k)
        return ref

    @staticmethod
    def issue_name(iid):
        if iid % 3 == 0:
            return None
        return "The %s %s" % (ADJECTIVES[iid * 7 % len(ADJECTIVES)], NOUNS[iid * 11 % len(NOUNS)])

    def issue_site_url(self, vid, iid):
        return "%s/%s-%d/%s-%d/" % (SITE, slug(volume_core(self.seed, vid)[0]), iid % ISSUES_PER_VOLUME_ID,
                                    ISSUE_TYPE, iid)

    def issue_exists(self, iid):
        vid, k = divmod(iid, ISSUES_PER_VOLUME_ID)
        return self.exists(vid) and 1 <= k <= self.issue_count(vid)

    def issue_added(self, iid):
        """k hours after the volume was added, but never after its generated update."""
        vid, k = divmod(iid, ISSUES_PER_VOLUME_ID)
        core = volume_core(self.seed, vid)
        return min(core[4] + k * 3600, core[5])

    def issue_updated(self, iid):
        """Touched -> the touch time; otherwise a little before the volume's update, never before added."""
        vid = iid // ISSUES_PER_VOLUME_ID
        if vid in self.touched:
            return self.touched[vid]
        added = self.issue_added(iid)
        volume_updated = self.volume_updated(vid)
        if volume_updated is None:
            return added
        return max(added, volume_updated - (iid * 7919) % (30 * 86400))

    def cover_date(self, vid, iid):
        """Monthly from the start year; ~5% unknown, and unknown when the year is."""
        start_year = volume_core(self.seed, vid)[1]
        if not start_year or iid * 7 % 20 == 0:
            return None
        months = iid % ISSUES_PER_VOLUME_ID - 1
        return date(int(start_year) + months // 12, months % 12 + 1, 1)

    def issue(self, iid):
        """The /issues/ list item, keys in the fixture's order."""
        vid, k = divmod(iid, ISSUES_PER_VOLUME_ID)
        cover = self.cover_date(vid, iid)
        store = cover - timedelta(days=45) if cover and cover.year >= 1990 else None
        return {
            "aliases": None,
            "api_detail_url": "%s/issue/%s-%d/" % (API, ISSUE_TYPE, iid),
            "cover_date": cover.isoformat() if cover else None,
            "date_added": cv_time(self.issue_added(iid)),
            "date_last_updated": cv_time(self.issue_updated(iid)),
            "deck": None,
            "description": "<p>Issue #%d of a generated series.</p>" % k,
            "has_staff_review": False,
            "id": iid,
            "image": image_urls("issue-%d" % iid),
            "associated_images": [],
            "issue_number": str(k),
            "name": self.issue_name(iid),
            "site_detail_url": self.issue_site_url(vid, iid),
            "store_date": store.isoformat() if store else None,
            "volume": {
                "api_detail_url": "%s/volume/%s-%d/" % (API, VOLUME_TYPE, vid),
                "id": vid,
                "name": self.volume_name(vid),
                "site_detail_url": "%s/%s/%s-%d/" % (SITE, slug(volume_core(self.seed, vid)[0]), VOLUME_TYPE, vid),
            },
        }

    def issue_detail(self, iid):
        record = self.issue(iid)
        for key in ("character_credits", "character_died_in", "concept_credits", "location_credits",
                    "object_credits", "person_credits", "story_arc_credits", "team_credits",
                    "team_disbanded_in"):
            record[key] = []
        for key in ("characters", "concepts", "locations", "objects", "storyarcs", "teams"):
            record["first_appearance_" + key] = None
        return dict(sorted(record.items()))

    def issue_ids(self, vid):
        base = vid * ISSUES_PER_VOLUME_ID
        return range(base + 1, base + self.issue_count(vid) + 1)


# -------------------------------------------------------------- personality

ROUTES = (
    ("/volumes/", re.compile(r"^/api/volumes/?$")),
    ("/volume/", re.compile(r"^/api/volume/([^/]*)/?$")),
    ("/issues/", re.compile(r"^/api/issues/?$")),
    ("/issue/", re.compile(r"^/api/issue/([^/]*)/?$")),
)


def id_set(text):
    return {int(part) for part in text.split(",") if part.strip()} if text else set()


class ComicVine(fakelib.Personality):
    name = "comicvine"

    @staticmethod
    def add_arguments(group):
        group.add_argument("--api-key", default="test-key", help="the only accepted api_key")
        group.add_argument("--seed", type=int, default=1, help="dataset seed")
        group.add_argument("--volumes", type=int, default=5000, help="volume ids are 1..N")
        group.add_argument("--omit-ids", type=id_set, default=set(), help="merged: left out of /volumes/ lists")
        group.add_argument("--deleted-ids", type=id_set, default=set(), help="gone: left out of lists, 101 on detail")
        group.add_argument("--hostile-ids", type=id_set, default=set(), help="volumes with hostile strings")

    def __init__(self, args, server):
        super().__init__(args, server)
        self.data = Dataset(args.seed, args.volumes, args.omit_ids, args.deleted_ids, args.hostile_ids)
        self.limit_body = fakelib.load_fixture("comicvine/error-107-rate-limit-http420.json")
        self.not_found = fakelib.load_fixture("comicvine/error-101-not-found.json")

    def route(self, path):
        for bucket, pattern in ROUTES:
            match = pattern.match(path)
            if match:
                return bucket, match
        return "other", None

    def bucket(self, path):
        return self.route(path)[0]

    def rate_limited(self):
        return fakelib.Response(420, self.limit_body)

    def rate_limit_body(self, status):
        return fakelib.Response(status, self.limit_body)

    # ---- API

    def handle(self, request):
        if not request.headers.get("User-Agent", "").strip():
            return fakelib.html_response(403, fakelib.BLOCK_PAGE)
        request.auth_ok = request.param("api_key") == self.args.api_key
        if not request.auth_ok:
            return fakelib.json_response(error_envelope(100, "Invalid API Key"), 401)
        bucket, match = self.route(request.path)
        if match is None or request.method != "GET":
            return fakelib.html_response(404, NOT_FOUND_PAGE)
        try:
            if request.param("format", "json") != "json":
                raise ApiError(102, "Error in URL Format")
            return fakelib.json_response(self.serve(bucket, match, request))
        except ApiError as err:
            if err.status_code == 101:
                return fakelib.Response(200, self.not_found)
            return fakelib.json_response(error_envelope(err.status_code, err.error))

    def serve(self, bucket, match, request):
        if bucket == "/volumes/":
            return self.volumes(request)
        if bucket == "/issues/":
            return self.issues(request)
        type_id, _, ident = match.group(1).partition("-")
        expected = VOLUME_TYPE if bucket == "/volume/" else ISSUE_TYPE
        if type_id != expected or not ident.isdigit():
            raise ApiError(101, "Object Not Found")
        if bucket == "/volume/":
            return self.volume_detail(int(ident), request)
        return self.issue_detail(int(ident), request)

    def volume_detail(self, vid, request):
        if not self.data.exists(vid):
            raise ApiError(101, "Object Not Found")
        return envelope(project(self.data.volume_detail(vid), request.param("field_list")), 1, 0, 1)

    def issue_detail(self, iid, request):
        if not self.data.issue_exists(iid):
            raise ApiError(101, "Object Not Found")
        return envelope(project(self.data.issue_detail(iid), request.param("field_list")), 1, 0, 1)

    def volumes(self, request):
        filters = parse_filter(request.param("filter"), ("id", "name", "date_last_updated"))
        field, descending = parse_sort(request.param("sort"))
        limit, offset = parse_paging(request)
        data = self.data
        if "id" in filters:
            ids = sorted({v for v in id_list(filters["id"]) if data.listed(v)})
        else:
            ids = [v for v in range(1, data.size + 1) if data.listed(v)]
        if "name" in filters:
            needle = filters["name"].lower()
            ids = [v for v in ids if needle in data.volume_name(v).lower()]
        if "date_last_updated" in filters:
            bounds = date_range(filters["date_last_updated"])
            ids = [v for v in ids if in_range(data.volume_updated(v), bounds)]
        ids.sort(key=sort_key(field, data.volume_updated), reverse=descending)
        page = [project(data.volume(v), request.param("field_list")) for v in ids[offset:offset + limit]]
        return envelope(page, limit, offset, len(ids))

    def issues(self, request):
        filters = parse_filter(request.param("filter"), ("volume", "id", "date_last_updated"))
        field, descending = parse_sort(request.param("sort"))
        limit, offset = parse_paging(request)
        data = self.data
        if "volume" in filters:
            volumes = sorted({v for v in id_list(filters["volume"]) if data.exists(v)})
        else:
            volumes = [v for v in range(1, data.size + 1) if data.exists(v)]
        ids = [i for v in volumes for i in data.issue_ids(v)]
        if "id" in filters:
            wanted = set(id_list(filters["id"]))
            ids = [i for i in ids if i in wanted]
        if "date_last_updated" in filters:
            bounds = date_range(filters["date_last_updated"])
            ids = [i for i in ids if in_range(data.issue_updated(i), bounds)]
        ids.sort(key=sort_key(field, data.issue_updated), reverse=descending)
        page = [project(data.issue(i), request.param("field_list")) for i in ids[offset:offset + limit]]
        return envelope(page, limit, offset, len(ids))

    # ---- controls

    def control(self, request):
        parts = request.path.strip("/").split("/")        # ["_control", name, arg?]
        name = parts[1] if len(parts) > 1 else ""
        arg = parts[2] if len(parts) > 2 else ""
        if request.method == "POST" and name in ("touch", "delete"):
            return self.mutate(name, request.body)
        if request.method == "GET" and name == "volume" and arg.isdigit():
            return self.show_volume(int(arg))
        if request.method == "GET" and name == "issues" and arg.isdigit():
            return self.show_issues(int(arg))
        return None

    def mutate(self, action, body):
        try:
            vid = int(json.loads(body or b"{}")["volume"])
        except (ValueError, KeyError, TypeError):
            return fakelib.json_response({"error": 'body must be {"volume": <id>}'}, 400)
        if not self.data.in_range(vid):
            return fakelib.json_response({"error": "no such volume", "volume": vid}, 404)
        if action == "delete":
            self.data.delete(vid)
            return fakelib.json_response({"ok": True, "volume": vid})
        touched = self.data.touch(vid)
        return fakelib.json_response({"ok": True, "volume": vid, "date_last_updated": cv_time(touched)})

    def show_volume(self, vid):
        """The full /volumes/ item, whatever its state (X-Fake-State says which)."""
        if not self.data.in_range(vid):
            return fakelib.json_response({"error": "no such volume", "volume": vid}, 404)
        return fakelib.json_response(self.data.volume(vid), headers=[("X-Fake-State", self.data.state(vid))])

    def show_issues(self, vid):
        if not self.data.in_range(vid):
            return fakelib.json_response({"error": "no such volume", "volume": vid}, 404)
        return fakelib.json_response([self.data.issue(i) for i in self.data.issue_ids(vid)])


if __name__ == "__main__":
    sys.exit(fakelib.main(ComicVine, __doc__.splitlines()[0]))
