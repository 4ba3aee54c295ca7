#!/usr/bin/env python3
"""jobrun's benchmark: figures and ratios measured in one run.

Runs inside pg_virtualenv (scripts/bench). Prints one `name=value` line per
figure, then the goals they are held against.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JOBRUN = os.environ.get("JOBRUN", os.path.join(ROOT, "build", "jobrun"))
# The test helper: the debug-* commands are not in jobrun.
TEST_TOOL = os.environ.get("TEST_TOOL", os.path.join(ROOT, "build", "test-tool"))
KEY = "bench-key"


def run(args, env=None, check=True):
    """Run jobrun; return (wall seconds, peak RSS KiB, rusage, completed stdout)."""
    program = TEST_TOOL if args[0].startswith("debug-") else JOBRUN
    start = time.perf_counter()
    proc = subprocess.Popen([program] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env)
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    # communicate() already reaped it; the rusage of the last child is in
    # RUSAGE_CHILDREN deltas, so measure with wait4 on a fresh process instead.
    if check and proc.returncode not in (0, 3):
        sys.exit(f"bench: jobrun {' '.join(args)} exited {proc.returncode}: {err.decode()[-800:]}")
    return wall, proc.returncode, out.decode()


def run_rusage(args, env=None, program=None):
    """Run jobrun (or program) and return (wall, exit code, stdout, rusage) via wait4."""
    program = program or JOBRUN
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.posix_spawn(program, [program] + args, env if env is not None else os.environ,
                             file_actions=[(os.POSIX_SPAWN_DUP2, out.fileno(), 1),
                                           (os.POSIX_SPAWN_DUP2, err.fileno(), 2)])
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 3):
            sys.exit(f"bench: jobrun {' '.join(args)} exited {code}: {err.read().decode()[-800:]}")
        return wall, code, out.read().decode(), usage


def psql(db, sql):
    return subprocess.run(["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


def database(name):
    subprocess.run(["createdb", name], check=True)
    env = dict(os.environ)
    env["DATABASE_URL"] = (f"postgresql://{os.environ['PGUSER']}:{os.environ['PGPASSWORD']}@"
                           f"{os.environ.get('PGHOST', 'localhost')}:{os.environ['PGPORT']}/{name}")
    env["JOBRUN_LOG_LEVEL"] = "warn"
    return env


class Fake:
    """The ComicVine stand-in, started on a free port."""

    def __init__(self, tmp, *args):
        self.port_file = os.path.join(tmp, "cv.port")
        self.log = os.path.join(tmp, "cv.log")
        # A previous stand-in's port file would look like "ready".
        for stale in (self.port_file, self.log):
            if os.path.exists(stale):
                os.unlink(stale)
        self.proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "test/fakes/comicvine.py"),
                                      "--port", "0", "--port-file", self.port_file, "--log",
                                      self.log, "--api-key", KEY] + list(args),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while not (os.path.exists(self.port_file) and open(self.port_file).read().strip()):
            if time.time() > deadline:
                sys.exit("bench: the stand-in did not start")
            time.sleep(0.02)
        self.url = "http://127.0.0.1:%s" % open(self.port_file).read().strip()

    def control(self, what, body=None):
        import urllib.request
        req = urllib.request.Request(self.url + "/_control/" + what,
                                     data=None if body is None else json.dumps(body).encode(),
                                     method="GET" if body is None else "POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)

    def arrivals(self):
        with open(self.log) as f:
            return sorted(json.loads(line)["t"] for line in f if line.strip())

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def figure(name, value, fmt="%.3f"):
    print(f"{name}={fmt % value if isinstance(value, float) else value}", flush=True)


def bench_startup():
    """jobrun --version, beside /bin/true: what spawning costs here at all."""
    walls, rss, base = [], [], []
    for _ in range(100):
        base.append(run_rusage([], program="/bin/true")[0])
        wall, _, _, usage = run_rusage(["--version"])
        walls.append(wall)
        rss.append(usage.ru_maxrss)
    figure("startup.true.median_ms", statistics.median(base) * 1000)
    figure("startup.version.median_ms", statistics.median(walls) * 1000)
    figure("startup.version.over_true_ms", (statistics.median(walls) - statistics.median(base)) * 1000)
    figure("startup.version.peak_rss_kib", max(rss), "%d")


def bench_noop(env):
    run(["migrate"], env)
    walls = [run(["debug-work", "--items", "0"], env)[0] for _ in range(30)]
    figure("db.noop_run.median_ms", statistics.median(walls) * 1000)


def bench_pace():
    script = os.path.join(ROOT, "scripts", "bench-pace")
    if not os.path.exists(script):
        print("pace: scripts/bench-pace not present", flush=True)
        return
    env = dict(os.environ, JOBRUN=JOBRUN, TEST_TOOL=TEST_TOOL)
    out = subprocess.run([script], capture_output=True, text=True, env=env)
    sys.stdout.write(out.stdout)
    if out.returncode:
        sys.stdout.write(out.stderr[-800:])


def primecache_env(env, fake, spacing):
    env = dict(env)
    env.update(COMICVINE_API_KEY=KEY, COMICVINE_API_URL=fake.url + "/api",
               COMICVINE_MIN_INTERVAL=f"{spacing}s")
    return env


def utilization(arrivals, spacing):
    if len(arrivals) < 2:
        return 0.0
    return (len(arrivals) - 1) * spacing / (arrivals[-1] - arrivals[0])


def bench_primecache(base_env, tmp):
    # The real API asks for 1 s; 0.1 s keeps the bench short while leaving the
    # per-request work (store, next slot) well inside the spacing, as at 1 s.
    spacing = 0.1
    tracked = 18000
    fake = Fake(tmp, "--volumes", "130000", "--min-interval", str(spacing), "--window-limit", "200",
                "--window-seconds", "3600")
    env = primecache_env(database("bench_pc"), fake, spacing)
    run(["migrate"], env)
    psql("bench_pc", f"INSERT INTO comicvine.tracked_volumes SELECT g * 7 FROM generate_series(1, {tracked}) g")
    try:
        # Cold: every tracked volume missing.
        wall, _, out, usage = run_rusage(["primecache", "--limit", "180", "--json"], env)
        s = json.loads(out)
        arr = fake.arrivals()
        vol_requests = s["summary"]["requests"]["/volumes/"] + s["summary"]["requests"]["/volume/"]
        figure("primecache.cold.requests", s["api_requests"], "%d")
        figure("primecache.cold.volumes_per_request",
               s["summary"]["volumes"]["added"] / max(vol_requests, 1))
        figure("primecache.cold.utilization", utilization(arr, spacing))
        figure("primecache.cold.peak_rss_mib", usage.ru_maxrss / 1024)
        figure("primecache.cold.violations", fake.control("stats")["violations"], "%d")

        # Refresh: all 18,000 cached and expired, a fresh hour.
        psql("bench_pc", "UPDATE comicvine.volumes SET refresh_after = now() - interval '1 hour' * (id % 97)")
        psql("bench_pc", "DELETE FROM jobrun.rate_buckets")
        fake.control("reset", {})
        open(fake.log, "w").close()
        wall, _, out, usage = run_rusage(["primecache", "--limit", "180", "--json"], env)
        s = json.loads(out)
        v = s["summary"]["volumes"]
        refreshed = v["refreshed"] + v["unchanged"]
        figure("primecache.refresh.requests", s["api_requests"], "%d")
        figure("primecache.refresh.volumes_per_request", refreshed / max(s["api_requests"], 1))
        figure("primecache.refresh.utilization", utilization(fake.arrivals(), spacing))
        figure("primecache.refresh.wall_s", wall)
        figure("primecache.refresh.peak_rss_mib", usage.ru_maxrss / 1024)
        figure("primecache.refresh.violations", fake.control("stats")["violations"], "%d")
    finally:
        fake.stop()


def bench_primecache_omitted(base_env, tmp):
    """18,000 missing volumes of which 2 % are left out of every /volumes/
    answer (merged): the omitted ones cost a single request each, so they
    must wait until the batches are sent, not interleave with them."""
    spacing = 0.1
    tracked = 18000
    omitted = [g * 7 for g in range(50, tracked + 1, 50)]       # 2 %: 360 ids
    # This case measures batching, not pacing (the cases above do): a stand-in
    # that tolerates arrivals up to 20 ms early keeps a loaded machine's
    # jitter from ending the run with a 420.
    fake = Fake(tmp, "--volumes", "130000", "--min-interval", str(spacing), "--window-limit", "200",
                "--window-seconds", "3600", "--tolerance", "0.02",
                "--omit-ids", ",".join(map(str, omitted)))
    env = primecache_env(database("bench_pc_omitted"), fake, spacing)
    run(["migrate"], env)
    psql("bench_pc_omitted",
         f"INSERT INTO comicvine.tracked_volumes SELECT g * 7 FROM generate_series(1, {tracked}) g")
    try:
        _, _, out, _ = run_rusage(["primecache", "--limit", "180", "--json"], env)
        s = json.loads(out)
        req = s["summary"]["requests"]
        vol_requests = req["/volumes/"] + req["/volume/"]
        figure("primecache.omitted2pct.requests", s["api_requests"], "%d")
        figure("primecache.omitted2pct.single_requests", req["/volume/"], "%d")
        figure("primecache.omitted2pct.volumes_per_request",
               s["summary"]["volumes"]["added"] / max(vol_requests, 1))
        figure("primecache.omitted2pct.violations", fake.control("stats")["violations"], "%d")
    finally:
        fake.stop()


def bench_ingest(base_env, tmp):
    """Issues upserted per second, JSON over HTTP in, rows committed."""
    fake = Fake(tmp, "--volumes", "130000")
    env = primecache_env(database("bench_ingest"), fake, 0)
    env["COMICVINE_HOURLY_LIMIT"] = "1000000"
    run(["migrate"], env)
    psql("bench_ingest", "INSERT INTO comicvine.tracked_volumes SELECT g * 7 FROM generate_series(1, 6000) g")
    try:
        run(["primecache", "--limit", "60"], env)  # the volumes only
        psql("bench_ingest", "UPDATE comicvine.volumes SET issues_fetched_at = NULL")
        wall, _, out, usage = run_rusage(["primecache", "--limit", "100000", "--json"], env)
        s = json.loads(out)
        n = s["summary"]["issues_upserted"]
        cpu = usage.ru_utime + usage.ru_stime
        figure("ingest.issues", n, "%d")
        figure("ingest.requests", s["api_requests"], "%d")
        figure("ingest.issues_per_s_wall", n / wall, "%.0f")
        figure("ingest.issues_per_cpu_s_jobrun", n / cpu if cpu else 0.0, "%.0f")
        figure("ingest.peak_rss_mib", usage.ru_maxrss / 1024)
    finally:
        fake.stop()


# ----------------------------------------------------------------- sync (issue 9)

class ShipStationFake:
    """The ShipStation stand-in with its accounts, started on a free port."""

    def __init__(self, tmp, *args):
        self.port_file = os.path.join(tmp, "ss.port")
        self.log = os.path.join(tmp, "ss.log")
        for stale in (self.port_file, self.log):
            if os.path.exists(stale):
                os.unlink(stale)
        self.proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "test/fakes/shipstation.py"),
                                      "--port", "0", "--port-file", self.port_file, "--log",
                                      self.log] + list(args),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while not (os.path.exists(self.port_file) and open(self.port_file).read().strip()):
            if time.time() > deadline:
                sys.exit("bench: the ShipStation stand-in did not start")
            time.sleep(0.02)
        self.url = "http://127.0.0.1:%s" % open(self.port_file).read().strip()

    control = Fake.control
    stop = Fake.stop

    def requests(self):
        with open(self.log) as f:
            return [json.loads(line) for line in f if line.strip()]


def sync_env(db, fake, per_minute):
    env = database(db)
    env["SHIPSTATION_API_URL"] = fake.url
    env["SHIPSTATION_REQUESTS_PER_MINUTE"] = str(per_minute)
    run(["migrate"], env)
    return env


def sync_integrations(db, keys):
    """One integration per key, named after its position (never after the key)."""
    values = ", ".join(f"('acct-{i:02d}', '{k}')" for i, k in enumerate(keys))
    psql(db, f"INSERT INTO shipstation.integrations (name, api_key) VALUES {values}")


def bench_sync_rate(tmp):
    """Phase 2 of one account at ShipStation's real 200 a minute, every answer
    500 ms late: one stream alone would reach 120 a minute."""
    fake = ShipStationFake(tmp, "--latency", "0.5", "--account",
                           json.dumps({"key": "ss-bench-rate", "products": 6000, "inventory": 6000}))
    env = sync_env("bench_sync_rate", fake, 200)
    sync_integrations("bench_sync_rate", ["ss-bench-rate"])
    try:
        run(["sync", "--only", "products,inventory"], env)
        t = sorted(r["t"] for r in fake.requests())
        per_min = (len(t) - 1) * 60 / (t[-1] - t[0])
        figure("sync.phase2_500ms.requests", len(t), "%d")
        figure("sync.phase2_500ms.requests_per_min", per_min, "%.1f")
        figure("sync.phase2_500ms.over_allowed", per_min / 200)
        figure("sync.phase2_500ms.violations", fake.control("stats")["violations"], "%d")
    finally:
        fake.stop()


def bench_sync_accounts(tmp):
    """10 accounts with their own keys at once, against the slowest alone."""
    keys = ["ss-bench-acct-%02d" % i for i in range(10)]
    accounts = []
    for k in keys:
        accounts += ["--account", json.dumps({"key": k, "products": 1500, "inventory": 1500})]
    fake = ShipStationFake(tmp, "--latency", "0.1", *accounts)
    env = sync_env("bench_sync_accounts", fake, 200)
    sync_integrations("bench_sync_accounts", keys)
    try:
        single, _, _ = run(["sync", "--integration", "acct-00"], env)
        psql("bench_sync_accounts", "TRUNCATE shipstation.products, shipstation.inventory")
        psql("bench_sync_accounts", "DELETE FROM jobrun.rate_buckets")
        wall, _, _ = run(["sync"], env)
        figure("sync.accounts10.single_wall_s", single)
        figure("sync.accounts10.all_wall_s", wall)
        figure("sync.accounts10.over_single", wall / single)
        figure("sync.accounts10.violations", fake.control("stats")["violations"], "%d")
    finally:
        fake.stop()


def bench_sync_large(tmp):
    """100,000 products and 100,000 inventory rows. The stand-in has no
    window here and jobrun is allowed 60,000 a minute: this measures memory
    and the database, not the 200 a minute (10 minutes of waiting)."""
    fake = ShipStationFake(tmp, "--requests-per-minute", "0", "--account",
                           json.dumps({"key": "ss-bench-large", "products": 100000, "inventory": 100000}))
    env = sync_env("bench_sync_large", fake, 60000)
    sync_integrations("bench_sync_large", ["ss-bench-large"])
    try:
        wall, _, out, usage = run_rusage(["sync", "--json"], env)
        s = json.loads(out)["summary"]
        figure("sync.large.first.wall_s", wall)
        figure("sync.large.first.rows_upserted", s["rows"]["inserted"] + s["rows"]["updated"], "%d")
        figure("sync.large.first.db_time_s", s["db_time_s"])
        figure("sync.large.first.rows_per_db_s", s.get("rows_per_db_second", 0.0), "%.0f")
        figure("sync.large.first.peak_rss_mib", usage.ru_maxrss / 1024)
        wall, _, out, usage = run_rusage(["sync", "--json"], env)
        s = json.loads(out)["summary"]
        written = psql("bench_sync_large", "SELECT count(*) FROM shipstation.products "
                       "WHERE synced_at > now() - make_interval(secs => %f)" % wall)
        figure("sync.large.second.wall_s", wall)
        figure("sync.large.second.rows_written", s["rows"]["inserted"] + s["rows"]["updated"] +
               s["rows"]["removed"], "%d")
        figure("sync.large.second.products_rewritten", int(written), "%d")
        figure("sync.large.second.peak_rss_mib", usage.ru_maxrss / 1024)
    finally:
        fake.stop()


def bench_sync(tmp):
    bench_sync_rate(tmp)
    bench_sync_accounts(tmp)
    bench_sync_large(tmp)


def main():
    for program in (JOBRUN, TEST_TOOL):
        if not os.path.exists(program):
            sys.exit(f"bench: {program} not built (make build/jobrun build/test-tool)")
    print(f"# jobrun bench, {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, "
          f"{os.cpu_count()} cpus", flush=True)
    # `scripts/bench sync` (or any of the names below) runs only those sections.
    sections = {
        "startup": lambda tmp: bench_startup(),
        "noop": lambda tmp: bench_noop(database("bench_noop")),
        "pace": lambda tmp: bench_pace(),
        "primecache": lambda tmp: (bench_primecache(None, tmp), bench_primecache_omitted(None, tmp)),
        "ingest": lambda tmp: bench_ingest(None, tmp),
        "sync": bench_sync,
    }
    chosen = sys.argv[1:] or list(sections)
    for name in chosen:
        if name not in sections:
            sys.exit(f"bench: no section {name!r} (sections: {', '.join(sections)})")
    with tempfile.TemporaryDirectory() as tmp:
        for name in chosen:
            sections[name](tmp)
    print("# goals: startup.version.median_ms < 5; pace.two.violations = 0 (10 loaded runs);\n"
          "# pace.one.utilization >= 0.95;\n"
          "# primecache.refresh.volumes_per_request >= 95; primecache utilization >= 0.98;\n"
          "# primecache.omitted2pct.volumes_per_request >= 95 (18,000 missing, 2 % omitted);\n"
          "# ingest.issues_per_s >= 50000; primecache peak RSS <= 32 MiB\n"
          "# sync.phase2_500ms.over_allowed >= 0.95, violations = 0; sync.accounts10.over_single <= 1.3;\n"
          "# sync.large peak RSS <= 64 MiB, sync.large.second.rows_written = 0")


if __name__ == "__main__":
    main()
