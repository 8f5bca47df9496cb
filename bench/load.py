"""Web load: 50 agency members browsing at once, against gunicorn, with locust (headless, as a library).

    .venv/bin/python -m bench.load [--users 50] [--seconds 60] [--gunicorn-workers 5]

Set-up: the demo seed (`manage.py seed_demo`) plus 10,000 searches in Metro City's log, each with its
audit events, a face and candidates (made once, through the models and search.audit.record_event).
Four in five simulated users are investigators, one in five an auditor; each has its own account and
authenticator app, and logs in through the forms (password, then the app's code). Then, with 1-3 s of
thought between pages, investigators open the dashboard, the search list (a random page) and search
results; auditors open the search list, search results and the audit pages (dashboard and event log).
The baseline, in the same run and on the same server, is a trivial page: the login form, fetched by the
same users.
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
from django.urls import NoReverseMatch, reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Agency, User  # noqa: E402
from audit.log import record_event  # noqa: E402
from core.tenancy import tenant_transaction  # noqa: E402
from search.models import Candidate, Purpose, Search, SearchFace  # noqa: E402

INVESTIGATOR = "investigator@metro.example"
AGENCY = "Metro City Police Department"
SEARCHES = 10_000
TRIVIAL = "trivial page (login form)"
TARGET_P95_MS = 200


def seed_searches(count: int) -> list[str]:
    """Codes of the agency's searches, after making sure its log holds `count` of them."""
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    agency = Agency.objects.get(name=AGENCY)
    common.license_for_benchmarks(agency)
    investigator = User.objects.get(email=INVESTIGATOR)
    missing = count - searches_in_log()
    if missing > 0:
        common.say(f"Adding {missing} searches, with their audit events, to the log")
        rng = random.Random(0)
        for start in range(0, missing, 500):
            _add_searches(agency, investigator, min(500, missing - start), rng)
    with tenant_transaction(agency.pk):
        return [str(code) for code in Search.objects.values_list("code", flat=True)[:500]]


def searches_in_log() -> int:
    with tenant_transaction(Agency.objects.get(name=AGENCY).pk):
        return Search.objects.count()


def members(role: str, count: int) -> list[str]:
    agency = Agency.objects.get(name=AGENCY)
    return [common.bench_member(agency, f"load-{role}-{n:02d}@metro.example", role).email for n in range(count)]


def _add_searches(agency: Agency, investigator: User, count: int, rng: random.Random) -> None:
    now = timezone.now()
    with tenant_transaction(agency.pk):
        searches = Search.objects.bulk_create([
            Search(agency=agency, created_by=investigator, purpose=rng.choice(Purpose.values),
                   case_number=f"CASE-{rng.randrange(10**6):06d}", threshold=0.6, max_candidates=10,
                   probe_sha256=f"{rng.getrandbits(256):064x}", probe_width=640, probe_height=480,
                   status=Search.Status.DONE, created=now - timezone.timedelta(minutes=rng.randrange(90 * 24 * 60)),
                   finished_at=now)
            for _ in range(count)
        ])
        faces = SearchFace.objects.bulk_create([
            SearchFace(search=search, agency=agency, index=1, top=40, right=140, bottom=140, left=40) for search in searches
        ])
        Candidate.objects.bulk_create([
            Candidate(search_face=face, agency=agency, rank=rank, distance=0.3 + 0.05 * rank, subject_reference=f"BK-{rank:04d}",
                      gallery_name="Bookings", source="Booking system", legal_basis="booking_record")
            for face in faces for rank in range(1, rng.randrange(1, 5))
        ])
        for search in searches:
            record_event("search.created", agency=agency, actor=investigator, target=search.code,
                         details={"purpose": search.purpose, "case_number": search.case_number,
                                  "probe_sha256": search.probe_sha256})
            record_event("search.completed", agency=agency, target=search.code, details={"faces": 1})


def audit_paths() -> list[str]:
    """The audit pages, when the portal has them (the dashboard and the event log)."""
    paths = []
    for name in ("oversight:audit_dashboard", "oversight:audit_events"):
        try:
            paths.append(reverse(name))
        except NoReverseMatch:
            continue
    return paths


def user_classes(search_codes: list[str], audit: list[str], investigators: list[str], auditors: list[str]):
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

    class Member(HttpUser):
        abstract = True
        wait_time = between(1, 3)
        emails: list[str] = []

        def on_start(self) -> None:
            common.logged_in(self.client, self.host, self.emails.pop())

    class Investigator(Member):
        fixed_count = len(investigators)
        emails = list(investigators)
        tasks = {dashboard: 3, search_list: 3, result_page: 4, trivial: 2}

    class Auditor(Member):
        fixed_count = len(auditors)
        emails = list(auditors)
        tasks = {search_list: 3, result_page: 3, trivial: 2, **({audit_page: 4} if audit else {dashboard: 4})}

    return [Investigator, Auditor]


def run_load(url: str, classes: list, users: int, seconds: int) -> Environment:
    environment = Environment(user_classes=classes, host=url, events=events)
    runner = environment.create_local_runner()
    runner.start(users, spawn_rate=10)
    while runner.user_count < users:
        gevent.sleep(0.5)
    gevent.sleep(10)  # every user has logged in (argon2 and the second factor make that the heaviest step)
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
    auditors = arguments.users // 5
    classes = user_classes(codes, audit, members("investigator", arguments.users - auditors),
                           members("auditor", auditors))
    common.say(f"Audit pages in the mix: {audit or 'none in this portal yet'}")
    with common.BenchServer(workers=arguments.gunicorn_workers) as server:
        environment = run_load(server.url, classes, arguments.users, arguments.seconds)
    stats = environment.stats
    trivial = stats.get(TRIVIAL, "GET")
    pages = [entry for entry in stats.entries.values() if entry.name != TRIVIAL and entry.num_requests]
    mix_p95 = _p95_of(pages)
    rows = [[entry.name, entry.num_requests, entry.num_failures, entry.get_response_time_percentile(0.5),
             entry.get_response_time_percentile(0.95), common.ratio(entry.get_response_time_percentile(0.95),
                                                                    trivial.get_response_time_percentile(0.95))]
            for entry in sorted(pages, key=lambda e: e.name)]
    rows.append(["members' mix (all pages above)", sum(e.num_requests for e in pages),
                 sum(e.num_failures for e in pages), "", mix_p95,
                 common.ratio(mix_p95, trivial.get_response_time_percentile(0.95))])
    rows.append([f"{TRIVIAL} (baseline)", trivial.num_requests, trivial.num_failures,
                 trivial.get_response_time_percentile(0.5), trivial.get_response_time_percentile(0.95), 1.0])
    print()
    print(f"{arguments.users} users for {arguments.seconds} s, 1-3 s between pages, gunicorn with "
          f"{arguments.gunicorn_workers} sync workers; {searches_in_log()} searches in the log; "
          f"{stats.total.num_requests / arguments.seconds:.1f} requests/s; errors: {stats.total.num_failures}")
    common.print_table(["page", "requests", "errors", "p50 ms", "p95 ms", "p95 / trivial page"], rows)
    for error in stats.errors.values():
        print(f"  error: {error.method} {error.name}: {error.error} x{error.occurrences}")
    common.save_results("load", {"users": arguments.users, "seconds": arguments.seconds, "rows": rows,
                                 "errors": stats.total.num_failures, "mix_p95_ms": mix_p95,
                                 "trivial_p95_ms": trivial.get_response_time_percentile(0.95)})


def _p95_of(entries) -> float:
    """The 95th percentile over several locust entries, from their merged response-time histograms."""
    return p95_of_histogram(merged_histogram(entries, {}))


def merged_histogram(entries, into: dict[int, int]) -> dict[int, int]:
    for entry in entries:
        for rounded, count in entry.response_times.items():
            into[rounded] = into.get(rounded, 0) + count
    return into


def p95_of_histogram(histogram: dict[int, int]) -> float:
    total, seen = sum(histogram.values()), 0
    for rounded in sorted(histogram):
        seen += histogram[rounded]
        if seen >= 0.95 * total:
            return rounded
    return 0


if __name__ == "__main__":
    main()
