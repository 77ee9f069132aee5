# ruff: noqa
"""Profile of one billing chunk of 1,000 (issue 9 measurement): per SQL statement (client-observed wall time, labelled
by the calling function), per Python phase, commit, and the ledger trigger functions (track_functions = all,
pg_stat_user_functions). Not a benchmark group, not a test. Run against a scratch database of your own:

  DJANGO_SETTINGS_MODULE=config.settings.base DEBUG=false SECRET_KEY=x... SECURE_SSL_REDIRECT=false \
  CELERY_BROKER_URL=memory://localhost/ PYTHONPATH=. DATABASE_URL=postgres://postgres@127.0.0.1:5432/<scratch> \
  MIGRATE=1 NCHUNKS=8 [CPROF=1] .venv/bin/python tests/benchmarks/profile_billing_chunk.py

MIGRATE=1 on a fresh database (migrates, warm-up chunk); later runs need another COHORT=<n>.
"""

import os, sys, time, re, traceback, collections, cProfile, pstats, io
import django

django.setup()
from django.db import connection, transaction
from django.core.management import call_command

from tests.support.billing_seed import AS_OF, seed
from plans.models import BillingRun
from plans.services import billing_chunk as bc
from billing.services import ledger_batch as lb
from plans.services.billing_run import billing_run_start

ROOT = os.getcwd() + "/"
NCHUNKS = int(os.environ.get("NCHUNKS", "4"))
if os.environ.get("MIGRATE"):
    call_command("migrate", verbosity=0, interactive=False)

sql_times = collections.defaultdict(float)
sql_counts = collections.Counter()
cur_phase = ["-"]
phase_sql = collections.defaultdict(float)


def label_for(sql):
    s = " ".join(sql.split())[:90]
    for fr in reversed(traceback.extract_stack()[:-3]):
        f = fr.filename
        if f.startswith(ROOT) and "profile_billing_chunk" not in f and ".venv" not in f:
            mod = f[len(ROOT) :]
            return f"{mod.split('/')[-1][:-3]}.{fr.name}: {s[:60]}"
    return "?: " + s[:60]


def wrapper(execute, sql, params, many, context):
    lab = label_for(sql)
    t = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        d = time.perf_counter() - t
        sql_times[lab] += d
        sql_counts[lab] += 1
        phase_sql[cur_phase[0]] += d


phase_wall = collections.defaultdict(float)


def timed(name, fn):
    def inner(*a, **k):
        prev = cur_phase[0]
        cur_phase[0] = name
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            phase_wall[name] += time.perf_counter() - t
            cur_phase[0] = prev

    return inner


import plans.services.snapshots as snapmod
import plans.services.renewal as renmod

for name in [
    "_price",
    "_accounts_for",
    "_charges",
    "ledger_batch_post",
    "_insert_charges",
    "_advance",
    "_consume_scheduled_changes",
    "_use_discount_periods",
    "_emit_status_events",
    "customers_mark_past_due",
    "ledger_batch_close",
    "_update_run",
    "load_renewal_snapshots",
    "renewal_decision",
    "rows_json",
    "outbox_kick",
    "event_emit_rows",
]:
    setattr(bc, name, timed(name, getattr(bc, name)))
# nested in ledger_batch
for name in ["rows_json", "_content_hash", "_validate_legs", "event_emit_rows"]:
    if hasattr(lb, name):
        setattr(lb, name, timed("lb." + name, getattr(lb, name)))

# commit time
orig_commit = connection.commit
commit_t = [0.0]


def setup_once():
    BillingRun.objects.all().update(status="completed")
    # warm-up chunk (creates the revenue / promo accounts)
    seed(cohort=189, n=200)
    r = billing_run_start(as_of=AS_OF, triggered_by="prof", chunk_size=200)
    bc.billing_run_chunk(run=r)
    BillingRun.objects.filter(pk=r.pk).update(status="completed")


if os.environ.get("MIGRATE"):
    setup_once()
else:
    BillingRun.objects.all().update(status="completed")
cohort = int(os.environ.get("COHORT", "300"))
seed(cohort=cohort, n=1000 * NCHUNKS)
run = billing_run_start(as_of=AS_OF, triggered_by="prof", chunk_size=1000)

with connection.cursor() as c:
    c.execute("SET track_functions = 'all'")
    c.execute("SELECT pg_stat_force_next_flush()")
    c.execute("SELECT 1")
time.sleep(1.2)


def fnstats():
    with connection.cursor() as c:
        c.execute("SELECT pg_stat_clear_snapshot()")
        c.execute("SELECT schemaname||'.'||funcname, calls, total_time, self_time FROM pg_stat_user_functions")
        return {r[0]: r[1:] for r in c.fetchall()}


f0 = fnstats()

# wrap commit via django's internal _commit
from django.db.backends.base import base as dbbase

orig__commit = connection._commit


def _commit():
    t = time.perf_counter()
    try:
        return orig__commit()
    finally:
        commit_t[0] += time.perf_counter() - t


connection._commit = _commit

prof = cProfile.Profile() if os.environ.get("CPROF") else None
walls = []
with connection.execute_wrapper(wrapper):
    for i in range(NCHUNKS):
        t = time.perf_counter()
        if prof:
            prof.enable()
        res = bc.billing_run_chunk(run=run)
        if prof:
            prof.disable()
        walls.append(time.perf_counter() - t)
        print("chunk", i, res.claimed, res.charged, f"{walls[-1] * 1000:.0f} ms", file=sys.stderr)
connection._commit = orig__commit
with connection.cursor() as c:
    c.execute("SELECT pg_stat_force_next_flush()")
time.sleep(1.2)
f1 = fnstats()

n = NCHUNKS
total = sum(walls) / n * 1000
sqlsum = sum(sql_times.values()) / n * 1000
print(f"\nchunks: {n}, wall per chunk {total:.1f} ms (each: {[round(w * 1000) for w in walls]})")
print(
    f"SQL (client-observed, execute+fetch-in-execute) {sqlsum:.1f} ms, commit {commit_t[0] / n * 1000:.1f} ms, "
    f"python rest {total - sqlsum - commit_t[0] / n * 1000:.1f} ms"
)
print("\n== per statement (ms/chunk, share of chunk wall, calls/chunk)")
for lab, t in sorted(sql_times.items(), key=lambda x: -x[1]):
    print(f"{t / n * 1000:8.1f} {t / n * 1000 / total * 100:5.1f}%  {sql_counts[lab] / n:4.1f}  {lab}")
print("\n== per phase (wall ms/chunk, of which SQL, python)")
for ph, t in sorted(phase_wall.items(), key=lambda x: -x[1]):
    s = phase_sql.get(ph, 0)
    print(f"{t / n * 1000:8.1f}  sql {s / n * 1000:7.1f}  py {(t - s) / n * 1000:7.1f}  {ph}")
print(f"  outside phases: sql {phase_sql.get('-', 0) / n * 1000:.1f}")
print("\n== trigger / functions (pg_stat_user_functions delta per chunk: calls, total ms, self ms)")
for k, v in sorted(f1.items(), key=lambda x: -x[1][1]):
    a = f0.get(k, (0, 0.0, 0.0))
    d = (v[0] - a[0], v[1] - a[1], v[2] - a[2])
    if d[0]:
        print(f"{d[1] / n:8.1f} {d[2] / n:8.1f}  {d[0] / n:8.0f} calls  {k}")
if prof:
    s = io.StringIO()
    pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(45)
    print(s.getvalue()[:12000])
    s = io.StringIO()
    pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(30)
    print(s.getvalue()[:8000])
