"""Web load: 50 investigators browsing at once, against gunicorn, with locust (headless, as a library).

    .venv/bin/python -m bench.load [--users 50] [--seconds 60] [--gunicorn-workers 5]

Set-up: the demo seed (`manage.py seed_demo`) plus 10,000 searches in Metro City's log, each with its
audit events, a face and candidates (made once, through the models and search.audit.record_event).
Each simulated user logs in as the demo investigator and then, with 1-3 s of thought between pages,
opens the dashboard, the search list (a random page), a search's result page, and the audit pages when
the portal has them (any URL named "...audit..." that takes no argument). The baseline, in the same run
and on the same server, is a trivial page: the login form, fetched by the same users.
"""
from locust import HttpUser, between, events  # noqa: I001  (first: gevent patches sockets before anything opens one)
from locust.env import Environment

import argparse
import random
import time

import gevent

import bench.common as common

common.setup_django()

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django.urls import get_resolver, reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.management.commands.seed_demo import DEMO_PASSWORD  # noqa: E402
from accounts.models import Agency, User  # noqa: E402
from search.audit import record_event  # noqa: E402
from search.models import Candidate, Purpose, Search, SearchFace  # noqa: E402

INVESTIGATOR = "investigator@metro.example"
AGENCY = "Metro City Police Department"
SEARCHES = 10_000
TRIVIAL = "trivial page (login form)"
TARGET_P95_MS = 200


def seed_searches(count: int) -> list[str]:
    """Codes of the investigator's searches, after making sure the agency's log holds `count` of them."""
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    agency = Agency.objects.get(name=AGENCY)
    investigator = User.objects.get(email=INVESTIGATOR)
    missing = count - Search.objects.filter(agency=agency).count()
    if missing > 0:
        common.say(f"Adding {missing} searches, with their audit events, to the log")
        rng = random.Random(0)
        for start in range(0, missing, 500):
            _add_searches(agency, investigator, min(500, missing - start), rng)
    return [str(code) for code in Search.objects.filter(agency=agency, created_by=investigator)
            .values_list("code", flat=True)[:500]]


def _add_searches(agency: Agency, investigator: User, count: int, rng: random.Random) -> None:
    now = timezone.now()
    with transaction.atomic():
        searches = Search.objects.bulk_create([
            Search(agency=agency, created_by=investigator, purpose=rng.choice(Purpose.values),
                   case_number=f"CASE-{rng.randrange(10**6):06d}", threshold=0.6, max_candidates=10,
                   probe_sha256=f"{rng.getrandbits(256):064x}", probe_width=640, probe_height=480,
                   status=Search.Status.DONE, created=now - timezone.timedelta(minutes=rng.randrange(90 * 24 * 60)),
                   finished_at=now)
            for _ in range(count)
        ])
        faces = SearchFace.objects.bulk_create([
            SearchFace(search=search, index=1, top=40, right=140, bottom=140, left=40) for search in searches
        ])
        Candidate.objects.bulk_create([
            Candidate(search_face=face, rank=rank, distance=0.3 + 0.05 * rank, subject_reference=f"BK-{rank:04d}",
                      gallery_name="Bookings", source="Booking system", legal_basis="booking_record")
            for face in faces for rank in range(1, rng.randrange(1, 5))
        ])
        for search in searches:
            record_event("search.created", agency=agency, actor=investigator, target=search.code,
                         details={"purpose": search.purpose, "case_number": search.case_number,
                                  "probe_sha256": search.probe_sha256})
            record_event("search.completed", agency=agency, target=search.code, details={"faces": 1})


def audit_paths() -> list[str]:
    """Pages about the audit log, when the portal has them: named "...audit...", no argument needed."""
    paths = []
    resolver = get_resolver()
    for namespace, (_prefix, sub_resolver) in [("", ("", resolver)), *resolver.namespace_dict.items()]:
        for name in sub_resolver.reverse_dict:
            if isinstance(name, str) and "audit" in name:
                try:
                    paths.append(reverse(f"{namespace}:{name}" if namespace else name))
                except Exception:
                    continue
    return sorted(set(paths))


def investigator_class(search_codes: list[str], audit: list[str]):
    def dashboard(user) -> None:
        user.client.get("/", name="dashboard")

    def search_list(user) -> None:
        user.client.get(f"/searches/?page={random.randint(1, 20)}", name="search list")

    def result_page(user) -> None:
        user.client.get(f"/searches/{random.choice(search_codes)}/", name="search result")

    def audit_page(user) -> None:
        path = random.choice(audit)
        user.client.get(path, name=f"audit {path}")

    def trivial(user) -> None:
        user.client.get("/accounts/login/", name=TRIVIAL)

    class Investigator(HttpUser):
        wait_time = between(1, 3)
        tasks = {dashboard: 3, search_list: 3, result_page: 4, trivial: 2, **({audit_page: 2} if audit else {})}

        def on_start(self) -> None:
            self.client.get("/accounts/login/", name=TRIVIAL)
            self.client.post("/accounts/login/", {"username": INVESTIGATOR, "password": DEMO_PASSWORD,
                                                  "csrfmiddlewaretoken": self.client.cookies.get("csrftoken", "")},
                             name="log in")

    return Investigator


def run_load(url: str, user_class, users: int, seconds: int) -> Environment:
    environment = Environment(user_classes=[user_class], host=url, events=events)
    runner = environment.create_local_runner()
    runner.start(users, spawn_rate=10)
    while runner.user_count < users:
        gevent.sleep(0.5)
    gevent.sleep(5)  # every user has logged in (argon2 makes that the heaviest step)
    environment.stats.reset_all()
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        gevent.sleep(1)
    runner.quit()
    return environment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--gunicorn-workers", type=int, default=5, help="gunicorn's advice: 2 x cores + 1")
    arguments = parser.parse_args()

    codes = seed_searches(SEARCHES)
    audit = audit_paths()
    common.say(f"Audit pages in the mix: {audit or 'none in this portal yet'}")
    with common.BenchServer(workers=arguments.gunicorn_workers) as server:
        environment = run_load(server.url, investigator_class(codes, audit), arguments.users, arguments.seconds)
    stats = environment.stats
    trivial = stats.get(TRIVIAL, "GET")
    pages = [entry for entry in stats.entries.values() if entry.name not in {TRIVIAL, "log in"}]
    mix_p95 = _p95_of(pages)
    rows = [[entry.name, entry.num_requests, entry.num_failures, entry.get_response_time_percentile(0.5),
             entry.get_response_time_percentile(0.95), common.ratio(entry.get_response_time_percentile(0.95),
                                                                    trivial.get_response_time_percentile(0.95))]
            for entry in sorted(pages, key=lambda e: e.name)]
    rows.append(["investigator mix (all pages above)", sum(e.num_requests for e in pages),
                 sum(e.num_failures for e in pages), "", mix_p95,
                 common.ratio(mix_p95, trivial.get_response_time_percentile(0.95))])
    rows.append([f"{TRIVIAL} (baseline)", trivial.num_requests, trivial.num_failures,
                 trivial.get_response_time_percentile(0.5), trivial.get_response_time_percentile(0.95), 1.0])
    print()
    print(f"{arguments.users} users for {arguments.seconds} s, 1-3 s between pages, gunicorn with "
          f"{arguments.gunicorn_workers} sync workers; {Search.objects.count()} searches in the database; "
          f"{stats.total.num_requests / arguments.seconds:.1f} requests/s; errors: {stats.total.num_failures}")
    common.print_table(["page", "requests", "errors", "p50 ms", "p95 ms", "p95 / trivial page"], rows)
    for error in stats.errors.values():
        print(f"  error: {error.method} {error.name}: {error.error} x{error.occurrences}")
    common.save_results("load", {"users": arguments.users, "seconds": arguments.seconds, "rows": rows,
                                 "errors": stats.total.num_failures, "mix_p95_ms": mix_p95,
                                 "trivial_p95_ms": trivial.get_response_time_percentile(0.95)})


def _p95_of(entries) -> float:
    """The 95th percentile over several locust entries, from their merged response-time histograms."""
    merged: dict[int, int] = {}
    for entry in entries:
        for rounded, count in entry.response_times.items():
            merged[rounded] = merged.get(rounded, 0) + count
    total, seen = sum(merged.values()), 0
    for rounded in sorted(merged):
        seen += merged[rounded]
        if seen >= 0.95 * total:
            return rounded
    return 0


if __name__ == "__main__":
    main()
