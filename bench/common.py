"""What the benchmarks share: their own database, the machine's description, percentiles, a real worker,
and a results file per run.

The benchmarks never touch the development database or the test one: they use `portal_bench` on the
checkout's local PostgreSQL, as the application's role (migrations and bulk loads as the owner's), or
BENCH_DATABASE_URL (and BENCH_DATABASE_OWNER_URL) when it is set.
"""
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import numpy as np

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS_DIR = BASE_DIR / "bench" / "results"
BENCH_DB = "portal_bench"
BENCH_VAR_DIR = BASE_DIR / "var" / "bench"
BENCH_QUEUE = f"portal-bench-{uuid.uuid4().hex[:6]}"
PASSWORD = "bench-password-not-secret-42"
FACES_DIR = BASE_DIR.parent / "shared" / "faces"


def use_own_database(name: str) -> None:
    """Points every later bench_environment() (and the servers and workers started with it) at another
    database of the local server and its own files folder: the screenshots start from a clean seeded demo."""
    global BENCH_DB, BENCH_VAR_DIR
    BENCH_DB, BENCH_VAR_DIR = name, BASE_DIR / "var" / name


def bench_environment() -> dict:
    """Environment variables that point Django (and any worker or server started from here) at the bench setup."""
    if "BENCH_DATABASE_URL" in os.environ:
        urls = {"DATABASE_URL": os.environ["BENCH_DATABASE_URL"],
                "DATABASE_OWNER_URL": os.environ.get("BENCH_DATABASE_OWNER_URL", os.environ["BENCH_DATABASE_URL"])}
    else:
        from portal import localservices

        socket_dir = localservices.ensure_postgres()
        localservices.ensure_local_database(socket_dir, BENCH_DB)
        urls = {variable: f"postgresql://{role}@/{BENCH_DB}?host={quote(socket_dir)}" for variable, role in (
            ("DATABASE_URL", localservices.LOCAL_DB_ROLE), ("DATABASE_OWNER_URL", localservices.LOCAL_OWNER_ROLE))}
    return {
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        **urls,
        "PORTAL_VAR_DIR": str(BENCH_VAR_DIR),
        "PORTAL_QUEUE": BENCH_QUEUE,
        "LOG_LEVEL": "WARNING",
        "DEBUG": "0",  # as in production: no SQL log kept in memory, no debug pages
    }


def setup_django() -> None:
    os.environ.update(bench_environment())
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def bench_people(agency=None):
    """The bench agency (or the given one), licensed, and an investigator of it who has accepted the code
    of conduct and enrolled an authenticator app whose key the bench knows (see logged_in)."""
    from accounts.models import Agency

    if agency is None:
        agency = Agency.objects.get_or_create(name="Bench agency", defaults={
            "kind": Agency.Kind.LAW_ENFORCEMENT, "country": "FR"})[0]
    license_for_benchmarks(agency)
    return agency, bench_member(agency, f"investigator-{agency.code.hex[:8]}@bench.example")


def license_for_benchmarks(agency) -> None:
    from billing.models import Licence, Plan
    from core.tenancy import tenant_transaction

    with tenant_transaction(agency.pk):
        plan = Plan.objects.get_or_create(stripe_price_id="price_benchmark", defaults={
            "name": "Benchmark", "seats": 1000, "monthly_searches": 1_000_000, "overage_allowed": True,
            "offered": False})[0]
        Licence.objects.update_or_create(agency=agency, defaults={"plan": plan, "status": Licence.Status.ACTIVE})


def bench_member(agency, email: str, role: str = "investigator"):
    from accounts.models import User

    return User.objects.filter(email=email).first() or _new_member(agency, email, role)


def _new_member(agency, email: str, role: str):
    from accounts.actions import do_accept_conduct
    from accounts.models import Membership, User
    from core.tenancy import tenant_transaction
    from tests.mfa import enroll_totp

    with tenant_transaction(agency.pk):
        user = User.objects.create_user(email, PASSWORD, full_name=f"Bench {role}")
        Membership.objects.create(user=user, agency=agency, role=role)
        enroll_totp(user)
        do_accept_conduct(membership=user.membership)
    return user


def logged_in(session, url: str, email: str):
    """A requests (or locust) session logged in through the forms: password, then the app's current code."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.mfa import totp_code

    session.get(f"{url}/accounts/login/", timeout=30)
    session.post(f"{url}/accounts/login/", timeout=30, allow_redirects=False, data={
        "username": email, "password": PASSWORD, "csrfmiddlewaretoken": session.cookies["csrftoken"]})
    device = TOTPDevice.objects.get(user__email=email)
    for step_offset in (0, 1):  # a code already used in this 30 s step is refused: the next one is not
        response = session.post(f"{url}/security/verify/", timeout=30, allow_redirects=False, data={
            "code": totp_code(device, step_offset), "next": "/", "csrfmiddlewaretoken": session.cookies["csrftoken"]})
        if response.status_code == 302 and response.headers["Location"] == "/":
            return session
    raise RuntimeError(f"Could not log in as {email}: {response.status_code}")


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def percentiles(milliseconds: list[float]) -> dict:
    values = np.asarray(milliseconds, dtype=float)
    return {"p50_ms": round(float(np.percentile(values, 50)), 2), "p95_ms": round(float(np.percentile(values, 95)), 2),
            "n": len(values)}


def ratio(value: float, baseline: float) -> float:
    return round(value / baseline, 3) if baseline else float("nan")


def machine() -> dict:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpu": model, "cores": os.cpu_count(), "memory_gib": round(memory, 1), "python": platform.python_version(),
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}


def save_results(name: str, results: dict) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    results = {"benchmark": name, "machine": machine(), **results}
    path = RESULTS_DIR / f"{name}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    say(f"Results written to {path.relative_to(BASE_DIR)}")
    return path


def print_table(header: list[str], rows: list[list]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
    sys.stdout.flush()


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class BenchServer:
    """gunicorn serving the portal on the bench database, on a free loopback port; with static=True, Django's
    own server instead, which also serves the stylesheets (gunicorn serves them only in production)."""

    def __init__(self, workers: int, threads: int = 1, static: bool = False):
        self.workers, self.threads, self.static = workers, threads, static
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log_path = BENCH_VAR_DIR / "gunicorn.log"

    def __enter__(self) -> "BenchServer":
        import urllib.request

        BENCH_VAR_DIR.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "gunicorn", "portal.wsgi", "--bind", f"127.0.0.1:{self.port}",
                   "--workers", str(self.workers), "--threads", str(self.threads), "--log-level", "warning"]
        if self.static:
            command = [sys.executable, "manage.py", "runserver", "--insecure", "--noreload", f"127.0.0.1:{self.port}"]
        self.process = subprocess.Popen(command, cwd=BASE_DIR, env=dict(os.environ, **bench_environment()),
                                        stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/accounts/login/", timeout=5) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"gunicorn did not answer; see {self.log_path}")

    def __exit__(self, *exc_info) -> None:
        stop(self.process)


def stop(process: subprocess.Popen | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class BenchWorker:
    """A real `celery worker` on the bench database and every queue of the bench's prefix, stopped by the
    benchmark that started it."""

    def __init__(self, concurrency: int):
        self.concurrency = concurrency
        self.process: subprocess.Popen | None = None
        self.log_path = BENCH_VAR_DIR / "worker.log"

    def __enter__(self) -> "BenchWorker":
        BENCH_VAR_DIR.mkdir(parents=True, exist_ok=True)
        from portal import worker

        command = worker.command("all", ["--concurrency", str(self.concurrency), "-l", "warning",
                                         "--without-mingle", "--without-gossip"])
        self.process = subprocess.Popen(command, cwd=BASE_DIR, env=dict(os.environ, **bench_environment()),
                                        stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT)
        from portal.celery import wait_for_worker

        wait_for_worker(self.process, self.log_path, timeout=90)
        return self

    def __exit__(self, *exc_info) -> None:
        stop(self.process)
