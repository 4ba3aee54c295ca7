#!/usr/bin/python3
"""The reference side of `make bench`'s cron section: Debian's python3-croniter.

Reads JSON {"from": unix seconds, "specs": [...], "count": N} on stdin and
prints, per spec, the next N fire times after `from` in UTC (unix seconds),
or null when croniter rejects the spec. Run by /usr/bin/python3 so it finds
the Debian package whatever python3 is first on PATH.
"""
import datetime
import json
import sys
from importlib import metadata

import croniter

req = json.load(sys.stdin)
start = datetime.datetime.fromtimestamp(req["from"], tz=datetime.timezone.utc)
out = []
for spec in req["specs"]:
    try:
        it = croniter.croniter(spec, start, day_or=True)
        out.append([int(it.get_next(float)) for _ in range(req["count"])])
    except Exception:  # croniter's own limits (e.g. max_years_between_matches)
        out.append(None)
print(json.dumps({"version": metadata.version("croniter"), "times": out}))
