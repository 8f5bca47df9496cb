"""What row-level security costs: the web load mix and the 1M-face vector stage, with RLS on and off
alternating in one run.

    .venv/bin/python -m bench.rls_cost web [--users 50] [--windows 6] [--seconds 30]
    .venv/bin/python -m bench.rls_cost vector [--faces 1000000] [--queries 300] [--rounds 3]

Between windows (web) or rounds (vector), the schema's owner switches row-level security off on every
tenant table (`ALTER TABLE ... DISABLE ROW LEVEL SECURITY`) and back on, so both states see the same
machine load, the same caches and the same server. Everything else stays as in production: the application's
role, `SET LOCAL app.agency_id` in each transaction, the same queries. The benchmark database is the bench's
own (bench/common.py); RLS is switched back on when the script ends, and `migrate` re-applies it anyway.
"""
from locust import events  # noqa: I001  (first: gevent patches sockets before anything opens one)
from locust.env import Environment

import argparse
import time
from contextlib import contextmanager

import gevent

import bench.common as common
import bench.load as load

from django.db import connections  # noqa: E402

from core.rls import quote, tenant_models  # noqa: E402
from core.tenancy import tenant_transaction  # noqa: E402

THRESHOLD = 0.6
LIMIT = 10


def set_row_level_security(enabled: bool) -> None:
    verb = "ENABLE" if enabled else "DISABLE"
    with connections["owner"].cursor() as cursor:
        for model in tenant_models():
            cursor.execute(f"ALTER TABLE {quote(model._meta.db_table)} {verb} ROW LEVEL SECURITY")


@contextmanager
def switching_row_level_security():
    try:
        yield set_row_level_security
    finally:
        set_row_level_security(True)


def state_name(enabled: bool) -> str:
    return "RLS on" if enabled else "RLS off"


def web(arguments) -> dict:
    codes = load.seed_searches(load.SEARCHES)
    audit = load.audit_paths()
    auditors = arguments.users // 5
    classes = load.user_classes(codes, audit, load.members("investigator", arguments.users - auditors),
                                load.members("auditor", auditors))
    histograms = {True: {}, False: {}}
    counts = {True: [0, 0], False: [0, 0]}
    with common.BenchServer(workers=arguments.gunicorn_workers) as server, switching_row_level_security() as switch:
        environment = Environment(user_classes=classes, host=server.url, events=events)
        runner = environment.create_local_runner()
        runner.start(arguments.users, spawn_rate=10)
        while runner.user_count < arguments.users:
            gevent.sleep(0.5)
        gevent.sleep(10)  # every user has logged in
        gevent.sleep(arguments.seconds)  # a first window, not counted: caches and connections settle
        for window in range(arguments.windows):
            enabled = window % 2 == 0
            switch(enabled)
            gevent.sleep(2)
            environment.stats.reset_all()
            gevent.sleep(arguments.seconds)
            pages = [e for e in environment.stats.entries.values() if e.name != load.TRIVIAL and e.num_requests]
            load.merged_histogram(pages, histograms[enabled])
            counts[enabled][0] += sum(e.num_requests for e in pages)
            counts[enabled][1] += sum(e.num_failures for e in pages)
            common.say(f"window {window + 1} ({state_name(enabled)}): members' mix p95 {load._p95_of(pages)} ms, "
                       f"{sum(e.num_requests for e in pages)} pages")
        runner.quit()
    rows = [[state_name(enabled), counts[enabled][0], counts[enabled][1], load.p95_of_histogram(histograms[enabled])]
            for enabled in (True, False)]
    ratio = common.ratio(rows[0][3], rows[1][3])
    print()
    print(f"{arguments.users} users, {arguments.windows} windows of {arguments.seconds} s alternating RLS on/off")
    common.print_table(["state", "pages", "errors", "members' mix p95 ms"], rows)
    print(f"p95 with RLS / without: {ratio}")
    return {"stage": "web", "rows": rows, "p95_ratio_on_off": ratio}


def timed_queries(gallery, probes, gallery_ids) -> tuple[list[float], int]:
    """nearest_faces per probe, each in its agency's transaction as the search worker runs it."""
    from search.vector import nearest_faces

    latencies, leaks = [], 0
    for probe in probes:
        started = time.perf_counter()
        with tenant_transaction(gallery.agency.pk):
            faces = nearest_faces(agency_id=gallery.agency.pk, gallery_ids=gallery_ids, encoding=probe,
                                  threshold=THRESHOLD, limit=LIMIT)
        latencies.append((time.perf_counter() - started) * 1000)
        leaks += sum(1 for face in faces if face.agency_id != gallery.agency.pk)
    return latencies, leaks


def vector(arguments) -> dict:
    from bench.synthetic import ensure_gallery
    from search import faceindex

    gallery = ensure_gallery(arguments.faces, log=common.say)
    probes = gallery.probes(arguments.queries)
    every_gallery = [g.pk for g in gallery.galleries]
    faceindex.refresh(gallery.agency.pk)
    latencies = {True: [], False: []}
    leaks = 0
    with switching_row_level_security() as switch:
        for round_number in range(arguments.rounds):
            for enabled in (True, False):
                switch(enabled)
                timed_queries(gallery, probes[:10], every_gallery)  # warm-up after the switch
                round_latencies, round_leaks = timed_queries(gallery, probes, every_gallery)
                latencies[enabled] += round_latencies
                leaks += round_leaks
                common.say(f"round {round_number + 1} ({state_name(enabled)}): "
                           f"{common.percentiles(round_latencies)}")
    rows = [[state_name(enabled), *common.percentiles(latencies[enabled]).values()] for enabled in (True, False)]
    ratio = common.ratio(rows[0][2], rows[1][2])
    print()
    print(f"{arguments.faces} faces, {arguments.queries} probes x {arguments.rounds} rounds per state; leaks: {leaks}")
    common.print_table(["state", "p50 ms", "p95 ms", "n"], rows)
    print(f"p95 with RLS / without: {ratio}")
    return {"stage": "vector", "faces": arguments.faces, "rows": rows, "p95_ratio_on_off": ratio, "leaks": leaks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    stages = parser.add_subparsers(dest="stage", required=True)
    web_stage = stages.add_parser("web")
    web_stage.add_argument("--users", type=int, default=50)
    web_stage.add_argument("--windows", type=int, default=6)
    web_stage.add_argument("--seconds", type=int, default=30)
    web_stage.add_argument("--gunicorn-workers", type=int, default=5)
    vector_stage = stages.add_parser("vector")
    vector_stage.add_argument("--faces", type=int, default=1_000_000)
    vector_stage.add_argument("--queries", type=int, default=300)
    vector_stage.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    results = web(arguments) if arguments.stage == "web" else vector(arguments)
    common.save_results(f"rls_cost_{arguments.stage}", results)


if __name__ == "__main__":
    main()
