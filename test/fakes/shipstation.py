#!/usr/bin/env python3
"""ShipStation API v2 stand-in: several accounts, the five list endpoints sync reads, per-key windows.

Rows are never materialised: each resource of an account is a range of indexes
1..hi minus a small removed set, plus a per-index version bumped by changes; a
row is derived from (account number, index, version) when it is served. So an
account of 100,000 products and 100,000 inventory rows costs nothing at start,
a page costs the same wherever it is, and a test can say "change 3 products,
remove 2, add 1" and be told exactly which rows that was.
Shapes follow the V2 OpenAPI spec (test/fixtures/shipstation/SOURCES.md).
"""

import argparse
import bisect
import json
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import fakelib

# resource -> (path, paged, default page_size); /v2/products defaults to 100, the rest to 25 (spec).
RESOURCES = {
    "warehouses": ("/v2/warehouses", False, None),
    "inventory_warehouses": ("/v2/inventory_warehouses", True, 25),
    "inventory_locations": ("/v2/inventory_locations", True, 25),
    "products": ("/v2/products", True, 100),
    "inventory": ("/v2/inventory", True, 25),
}
BY_PATH = {path: name for name, (path, _, _) in RESOURCES.items()}
INVENTORY_API = frozenset({"inventory_warehouses", "inventory_locations", "inventory"})
MAX_PAGE_SIZE = 100

ACCOUNT_DEFAULTS = {"alias": None, "products": 50, "inventory": None, "warehouses": 2,
                    "inventory_warehouses": 2, "inventory_locations": 4, "inventory_addon": True,
                    "requests_per_minute": None, "latency": None}
MAX_ROWS = 10_000_000
BASE_TIME = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)

# Error answers (SOURCES.md: the status and code of the 401 and the add-on 403 are assumptions).
UNAUTHORIZED = ("security", "unauthorized", "The API key is invalid or missing. Pass your key in the api-key header.")
NO_ADDON = ("security", "forbidden",
            "The Inventory API add-on is not enabled for this account. Enable it in Settings > Add-Ons.")
NOT_FOUND = ("validation", "invalid_identifier", "The requested resource was not found.")


def iso(moment):
    """The spec's timestamps: '2019-06-25T18:12:35.583Z'."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)


def stamps(index, version):
    """(created, modified): created one minute apart per index, modified one day later per version."""
    created = BASE_TIME + timedelta(minutes=index)
    return iso(created), iso(created + timedelta(days=version))


def rev(text, version):
    """The field a change alters: the name gains ' (rev N)'."""
    return text if version == 0 else "%s (rev %d)" % (text, version)


# ------------------------------------------------------------------ rows

def address(number, index):
    return {"name": "Shipping Dept %d" % index, "phone": "512-555-%04d" % (index % 10000),
            "company_name": "Account %d" % number, "address_line1": "%d Warehouse Way" % (100 + index),
            "address_line2": None, "address_line3": None, "city_locality": "Austin",
            "state_province": "TX", "postal_code": "78756", "country_code": "US",
            "address_residential_indicator": "no"}


def warehouse(number, i, v):
    created, _ = stamps(i, 0)
    return {"warehouse_id": "se-%d" % (number * 1000 + i), "is_default": i == 1,
            "name": rev("Warehouse %d" % i, v), "created_at": created,
            "origin_address": address(number, i), "return_address": address(number, i)}


def inventory_warehouse_id(number, i):
    return "se-%d" % (number * 100000 + i)


def inventory_location_id(number, i):
    return "se-%d" % (number * 10000000 + i)


def inventory_warehouse(number, i, v):
    created, modified = stamps(i, v)
    return {"inventory_warehouse_id": inventory_warehouse_id(number, i),
            "name": rev("Inventory warehouse %d" % i, v), "created_at": created, "updated_at": modified}


class Generated:
    """Row builders of one account; locations and inventory refer to its (initial) warehouses and locations."""

    def __init__(self, number, inventory_warehouses, inventory_locations):
        self.number = number
        self.warehouses = max(inventory_warehouses, 1)
        self.locations = max(inventory_locations, 1)

    def location(self, i, v):
        created, modified = stamps(i, v)
        return {"inventory_location_id": inventory_location_id(self.number, i),
                "name": rev("Aisle %d" % i, v),
                "inventory_warehouse_id": inventory_warehouse_id(self.number, (i - 1) % self.warehouses + 1),
                "created_at": created, "updated_at": modified}

    def product(self, i, v):
        created, modified = stamps(i, v)
        return {"product_id": self.number * 10_000_000 + i, "sku": "SKU-%06d" % i,
                "name": rev("Product %d" % i, v), "upc": "0%011d" % i if i % 4 else None,
                "thumbnail_url": None, "price": {"currency": "usd", "amount": round(1 + i % 997 * 0.25, 2)},
                "dimensions": {"unit": "inch", "length": 1 + i % 9, "width": 1 + i % 5, "height": 1 + i % 7},
                "weight": {"value": round(1 + i % 50 * 0.5, 1), "unit": "ounce"},
                "internal_notes": None, "fulfillment_sku": None,
                "create_date": created, "modify_date": modified, "active": i % 10 != 0,
                "product_category": None, "warehouse_location": "BIN %d-%d" % (i % 50, i % 7),
                "tags": [], "aliases": [], "is_bundle": False}

    def inventory(self, i, v):
        """Row i holds SKU-i (the product with the same index) at location (i-1) % locations + 1,
        so (sku, inventory_warehouse_id, inventory_location_id) is unique. A change moves on_hand."""
        location = (i - 1) % self.locations + 1
        on_hand = 10 + i % 90 + 7 * v
        allocated = i % 5
        return {"sku": "SKU-%06d" % i, "on_hand": on_hand, "allocated": allocated,
                "available": on_hand - allocated,
                "average_cost": {"amount": round(0.5 + i % 40 * 0.1, 2), "currency": "usd"},
                "inventory_warehouse_id": inventory_warehouse_id(self.number, (location - 1) % self.warehouses + 1),
                "inventory_location_id": inventory_location_id(self.number, location)}

    def row(self, resource, i, v):
        if resource == "warehouses":
            return warehouse(self.number, i, v)
        if resource == "inventory_warehouses":
            return inventory_warehouse(self.number, i, v)
        if resource == "inventory_locations":
            return self.location(i, v)
        if resource == "products":
            return self.product(i, v)
        return self.inventory(i, v)


class Indexes:
    """Live indexes 1..hi minus `removed` (kept sorted), and the version of each changed index."""

    def __init__(self, count):
        self.hi = count
        self.removed = []
        self.gone = set()
        self.versions = {}

    def __len__(self):
        return self.hi - len(self.removed)

    def nth(self, offset):
        """The live index at 0-based position offset: the smallest x with x - removed(<= x) == offset + 1.
        Iterating x = offset + 1 + removed(<= x) from below reaches it (monotone, bounded by it)."""
        x = offset + 1
        while True:
            y = offset + 1 + bisect.bisect_right(self.removed, x)
            if y == x:
                return x
            x = y

    def window(self, start, stop):
        """Live indexes at positions start..stop-1 (clamped)."""
        stop = min(stop, len(self))
        if start >= stop:
            return []
        out, x = [], self.nth(start)
        while len(out) < stop - start:
            if x not in self.gone:
                out.append(x)
            x += 1
        return out

    def remove(self, index):
        bisect.insort(self.removed, index)
        self.gone.add(index)

    def live(self, index):
        return 1 <= index <= self.hi and index not in self.gone


class Page:
    """A lazy sequence over one resource's live rows, for fakelib.links_page (len and slices)."""

    def __init__(self, rows):
        self.rows = rows

    def __len__(self):
        return len(self.rows.indexes)

    def __getitem__(self, key):
        return self.rows.serve(key.start or 0, key.stop)


class Rows:
    """One resource of one account."""

    def __init__(self, name, count, generated, lock):
        self.name = name
        self.indexes = Indexes(count)
        self.generated = generated
        self.lock = lock

    def build(self, index):
        return self.generated.row(self.name, index, self.indexes.versions.get(index, 0))

    def serve(self, start, stop):
        with self.lock:
            return [self.build(i) for i in self.indexes.window(start, stop)]

    def everything(self):
        with self.lock:
            return [self.build(i) for i in self.indexes.window(0, len(self.indexes))]

    def mutate(self, change, remove, add):
        """change and remove: a count (lowest / highest live indexes) or a list of live indexes;
        add: a count of new indexes after the highest ever used. Returns the rows affected."""
        with self.lock:
            ix = self.indexes
            changed = self.pick(change, lambda n: ix.window(0, n))
            removed = self.pick(remove, lambda n: ix.window(len(ix) - n, len(ix)))
            gone = [self.build(i) for i in removed]
            for i in changed:
                ix.versions[i] = ix.versions.get(i, 0) + 1
            for i in removed:
                ix.remove(i)
            added = list(range(ix.hi + 1, ix.hi + 1 + add))
            ix.hi += add
            return {"changed": [self.build(i) for i in changed if ix.live(i)], "removed": gone,
                    "added": [self.build(i) for i in added], "total": len(ix)}

    def pick(self, spec, by_count):
        if isinstance(spec, list):
            bad = [i for i in spec if not isinstance(i, int) or isinstance(i, bool) or not self.indexes.live(i)]
            if bad:
                raise ValueError("%s: not live indexes: %s" % (self.name, bad[:10]))
            return sorted(set(spec))
        return by_count(min(spec, len(self.indexes)))


class Account:
    def __init__(self, number, spec, aliases):
        self.number = number
        self.key = spec["key"]
        self.alias = spec["alias"]
        self.bucket = fakelib.secret_bucket(self.key, aliases)
        self.inventory_addon = spec["inventory_addon"]
        self.requests_per_minute = spec["requests_per_minute"]
        self.latency = spec["latency"]
        self.lock = threading.Lock()
        generated = Generated(number, spec["inventory_warehouses"], spec["inventory_locations"])
        inventory = spec["products"] if spec["inventory"] is None else spec["inventory"]
        counts = dict(spec, inventory=inventory)
        self.rows = {name: Rows(name, counts[name], generated, self.lock) for name in RESOURCES}

    def summary(self):
        """What /_control/accounts shows: never the key."""
        return {"number": self.number, "alias": self.alias, "bucket": self.bucket,
                "inventory_addon": self.inventory_addon, "requests_per_minute": self.requests_per_minute,
                "latency": self.latency, "rows": {name: len(rows.indexes) for name, rows in self.rows.items()}}


def check_account(spec):
    """An account spec with defaults filled in; ValueError naming the problem."""
    if not isinstance(spec, dict):
        raise ValueError("an account is a JSON object")
    unknown = set(spec) - set(ACCOUNT_DEFAULTS) - {"key"}
    if unknown:
        raise ValueError("unknown account field(s) %s (known: key, %s)" % (sorted(unknown), ", ".join(ACCOUNT_DEFAULTS)))
    key = spec.get("key")
    if not isinstance(key, str) or not key or any(c in key for c in "\r\n"):
        raise ValueError("an account needs a non-empty string key")
    out = dict(ACCOUNT_DEFAULTS, **spec)
    for name in ("products", "inventory", "warehouses", "inventory_warehouses", "inventory_locations",
                 "requests_per_minute"):
        value = out[name]
        if value is None and name in ("inventory", "requests_per_minute"):
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ROWS:
            raise ValueError("account field %s must be an integer 0..%d" % (name, MAX_ROWS))
    check_settings(out)
    if out["alias"] is not None and (not isinstance(out["alias"], str) or not out["alias"]):
        raise ValueError("alias must be a non-empty string")
    return out


def check_settings(spec):
    if "inventory_addon" in spec and not isinstance(spec["inventory_addon"], bool):
        raise ValueError("inventory_addon must be true or false")
    latency = spec.get("latency")
    if latency is not None and (isinstance(latency, bool) or not isinstance(latency, (int, float)) or latency < 0):
        raise ValueError("latency must be a non-negative number of seconds")
    rpm = spec.get("requests_per_minute")
    if rpm is not None and (isinstance(rpm, bool) or not isinstance(rpm, int) or rpm < 0):
        raise ValueError("requests_per_minute must be a non-negative integer (0: no window)")


# ------------------------------------------------------------ machinery

class AccountFaults(fakelib.FaultQueue):
    """fakelib's faults plus an optional "account" criterion (alias or bucket name)."""

    def add(self, spec):
        if isinstance(spec, dict) and "account" in spec and not isinstance(spec["account"], str):
            raise ValueError("account must be an account's alias or bucket name")
        super().add(spec)

    def matches(self, fault, path, request):
        return super().matches(fault, path, request) \
            and fault.get("account") in (None, getattr(request, "bucket", None))


def page_number(request):
    """The page a paged endpoint was asked for (1 when absent), the raw text if not a number, else None."""
    name = BY_PATH.get(request.path.rstrip("/"))
    if name is None or not RESOURCES[name][1]:
        return None
    text = request.param("page")
    if text is None or text == "":
        return 1
    return int(text) if text.isdigit() else text


# ----------------------------------------------------------- personality

def account_option(text):
    try:
        return check_account(json.loads(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err))


class ShipStation(fakelib.Personality):
    name = "shipstation"
    rate_convention = "shipstation"

    @staticmethod
    def add_arguments(group):
        # ShipStation's rule: 200 requests per minute per key (the common options' defaults are hourly).
        group.set_defaults(window_limit=200, window_seconds=60.0)
        group.add_argument("--requests-per-minute", dest="window_limit", type=int, default=argparse.SUPPRESS,
                           help="requests per window per key (default 200; same as --window-limit)")
        group.add_argument("--account", type=account_option, action="append", default=[], metavar="JSON",
                           help='an account: {"key", "alias", "products", "inventory", "warehouses", '
                                '"inventory_warehouses", "inventory_locations", "inventory_addon", '
                                '"requests_per_minute", "latency"} (repeatable)')
        group.add_argument("--latency", type=float, default=0.0,
                           help="seconds every answer is delayed (per request; concurrent ones overlap)")
        group.add_argument("--links-absent", choices=fakelib.LINK_ABSENT_STYLES, default="empty",
                           help="links.prev/next when there is no such page: {} (the spec), null or left out")

    def __init__(self, args, server):
        super().__init__(args, server)
        server.faults = AccountFaults()
        self.lock = threading.Lock()
        self.accounts = []
        self.by_key = {}
        for spec in args.account:
            self.create(spec)

    # ---- accounts

    def create(self, spec):
        """Add an account (spec checked); ValueError if its key or alias is taken."""
        with self.lock:
            if spec["key"] in self.by_key:
                raise ValueError("an account with this key exists")
            if spec["alias"] is not None and self.find_unlocked(spec["alias"]):
                raise ValueError("an account with alias %r exists" % spec["alias"])
            aliases = {spec["key"]: spec["alias"]} if spec["alias"] else None
            account = Account(len(self.accounts) + 1, spec, aliases)
            self.accounts.append(account)
            self.by_key[account.key] = account
        self.apply_rate(account)
        return account

    def apply_rate(self, account):
        if account.requests_per_minute is not None:
            self.server.ledger.set_rules({account.bucket: {"window_limit": account.requests_per_minute}})

    def find_unlocked(self, ref):
        for account in self.accounts:
            if ref in (account.alias, account.bucket, account.key):
                return account
        return None

    def find(self, ref):
        with self.lock:
            return self.find_unlocked(ref) if isinstance(ref, str) else None

    # ---- requests

    def bucket_for(self, request):
        """The account's alias (else key-<8 hex>); an unknown key its own hash bucket; no key 'anonymous'."""
        key = request.headers.get("api-key")
        if not key:
            return "anonymous"
        account = self.by_key.get(key)
        return account.bucket if account else fakelib.secret_bucket(key)

    def handle(self, request):
        account = self.by_key.get(request.headers.get("api-key") or "")
        request.auth_ok = account is not None
        response = self.answer(request, account)
        latency = account.latency if account and account.latency is not None else self.args.latency
        if latency > 0:
            self.server.stopping.wait(latency)      # this thread only: concurrent requests overlap
        return response

    def answer(self, request, account):
        if account is None:
            return fakelib.shipstation_error(401, *UNAUTHORIZED)
        name = BY_PATH.get(request.path.rstrip("/"))
        if name is None:
            return fakelib.shipstation_error(404, *NOT_FOUND)
        if request.method != "GET":
            return fakelib.shipstation_error(405, "validation", "invalid_field_value",
                                             "The %s method is not supported here." % request.method)
        if name in INVENTORY_API and not account.inventory_addon:
            return fakelib.shipstation_error(403, *NO_ADDON)
        _, paged, default_size = RESOURCES[name]
        rows = account.rows[name]
        if not paged:
            return fakelib.json_response({name: rows.everything()})
        try:
            page, paging = fakelib.links_page(Page(rows), request, fakelib.self_url(request, self.server),
                                              default_size=default_size, max_size=MAX_PAGE_SIZE,
                                              absent=self.args.links_absent)
        except fakelib.PagingError as err:
            return fakelib.convention_error("shipstation", 400, str(err))
        return fakelib.json_response(dict({name: page}, **paging))

    def log_fields(self, request):
        """The page asked for, and the finish time on the arrival's clock (tests order phases by it)."""
        return {"page": page_number(request), "finish": round(time.monotonic(), 6)}

    # ---- controls

    def control(self, request):
        route = (request.method, request.path.rstrip("/"))
        handlers = {
            ("GET", "/_control/accounts"): self.list_accounts,
            ("POST", "/_control/accounts"): self.add_accounts,
            ("POST", "/_control/change"): self.change,
            ("POST", "/_control/configure"): self.configure,
            ("GET", "/_control/rows"): self.show_rows,
        }
        handler = handlers.get(route)
        if handler is None:
            return None
        try:
            return handler(request)
        except ValueError as err:
            return fakelib.json_response({"error": str(err)}, 400)

    def list_accounts(self, request):
        with self.lock:
            accounts = list(self.accounts)
        return fakelib.json_response({"ok": True, "accounts": [a.summary() for a in accounts]})

    def add_accounts(self, request):
        specs = json.loads(request.body or b"null")
        specs = [check_account(spec) for spec in (specs if isinstance(specs, list) else [specs])]
        created = [self.create(spec).summary() for spec in specs]
        return fakelib.json_response({"ok": True, "accounts": created})

    def account_of(self, body):
        account = self.find(body.get("account"))
        if account is None:
            raise ValueError('"account" must name an account (alias or bucket)')
        return account

    def change(self, request):
        body = json_object(request.body)
        account = self.account_of(body)
        resource = body.get("resource")
        if resource not in RESOURCES:
            raise ValueError('"resource" must be one of %s' % ", ".join(RESOURCES))
        counts = {}
        for what in ("change", "remove", "add"):
            value = body.get(what, 0)
            if what != "add" and isinstance(value, list):
                counts[what] = value
            elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ROWS:
                raise ValueError('"%s" must be a count 0..%d%s' % (what, MAX_ROWS, "" if what == "add" else " or a list of indexes"))
            else:
                counts[what] = value
        result = account.rows[resource].mutate(counts["change"], counts["remove"], counts["add"])
        return fakelib.json_response(dict(result, ok=True, account=account.alias or account.bucket, resource=resource))

    def configure(self, request):
        body = json_object(request.body)
        account = self.account_of(body)
        settings = {k: v for k, v in body.items() if k != "account"}
        unknown = set(settings) - {"inventory_addon", "requests_per_minute", "latency"}
        if unknown:
            raise ValueError("unknown setting(s) %s (known: inventory_addon, requests_per_minute, latency)" % sorted(unknown))
        check_settings(settings)
        with account.lock:
            for name, value in settings.items():
                setattr(account, name, value)
        if "requests_per_minute" in settings:
            rule = {"window_limit": self.args.window_limit if settings["requests_per_minute"] is None
                    else settings["requests_per_minute"]}
            self.server.ledger.set_rules({account.bucket: rule})
        return fakelib.json_response({"ok": True, "account": account.summary()})

    def show_rows(self, request):
        account = self.find(request.param("account"))
        resource = request.param("resource")
        if account is None or resource not in RESOURCES:
            raise ValueError("query: account=<alias or bucket>&resource=<%s>" % "|".join(RESOURCES))
        rows = account.rows[resource].everything()
        return fakelib.json_response({"ok": True, "total": len(rows), resource: rows})


def json_object(body):
    value = json.loads(body or b"{}")
    if not isinstance(value, dict):
        raise ValueError("the body must be a JSON object")
    return value


if __name__ == "__main__":
    sys.exit(fakelib.main(ShipStation, __doc__.splitlines()[0]))
