#!/usr/bin/env python3
"""Recording stand-in for heartbeat pings and chat webhooks (jobrun's lib/notify).

Any path answers: 200 "OK" (what hc-ping.com, Better Stack, Cronitor, Sentry,
Uptime Kuma and Dead Man's Snitch answer, near enough), 204 for Discord's
/api/webhooks/…, "ok" for Slack's /services/…. Every request that arrives,
faulted or not, is recorded in --record as one JSON line with its method,
path, query and body, before it is answered: tests read the exact URL forms
and payloads jobrun sent. The fakelib faults (`timeout` hangs, `status`
answers 500) and request log work as for every fake.

The record is unredacted on purpose: ping URLs carry their keys in the path,
and the tests prove jobrun sent the right one while never logging it.
"""

import json
import sys
import threading

import fakelib


class Hooks(fakelib.Personality):
    name = "hookfake"

    @staticmethod
    def add_arguments(group):
        group.add_argument("--record", metavar="PATH",
                           help="append one JSON line per request: method, path, query, body")

    def __init__(self, args, server):
        super().__init__(args, server)
        self.lock = threading.Lock()
        self.record_file = open(args.record, "a", encoding="utf-8") if args.record else None

    def bucket_for(self, request):
        # Called for every arrival before faults are applied: the one place
        # that sees each request, so the record is written here.
        self.record(request)
        return "default"

    def record(self, request):
        if self.record_file is None:
            return
        text = request.body.decode("utf-8", "replace")
        try:
            body_json = json.loads(text) if text else None
        except ValueError:
            body_json = None
        entry = {
            "method": request.method,
            "path": request.path,
            "query": {k: v[-1] for k, v in request.query.items()},
            "content_type": request.headers.get("Content-Type"),
            "body": text,
            "json": body_json,
        }
        with self.lock:
            self.record_file.write(json.dumps(entry, ensure_ascii=True) + "\n")
            self.record_file.flush()

    def handle(self, request):
        if request.path.startswith("/api/webhooks/"):
            return fakelib.Response(204, b"", "text/plain")
        if request.path.startswith("/services/"):
            return fakelib.Response(200, b"ok", "text/plain")
        return fakelib.Response(200, b"OK", "text/plain")


if __name__ == "__main__":
    sys.exit(fakelib.main(Hooks, __doc__.splitlines()[0]))
