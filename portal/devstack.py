"""The README's commands: `./dev.sh run` (portal + a worker per pool + beat), `./dev.sh test` (the suite),
`./dev.sh stop` (the local PostgreSQL and Redis the other two leave running).

Run and test prepare the same things first: the local PostgreSQL and Redis when none is configured,
migrations, translations and the demo seed.
"""
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from portal import localservices

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HOST, PORT = "127.0.0.1", 8000


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def prepare_services() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    if "DATABASE_URL" not in os.environ:
        say("Starting the local PostgreSQL with pgvector (data in var/pgdata)")
        localservices.ensure_local_database(localservices.ensure_postgres())
    if "REDIS_URL" not in os.environ:
        say("Starting the local Redis (data in var/redis)")


def prepare() -> None:
    prepare_services()
    import django
    from django.core.management import call_command

    django.setup()
    say("Migrating")
    call_command("migrate", interactive=False, verbosity=0)
    call_command("compiletranslations")
    say("Seeding the demo setup")
    call_command("seed_demo")


def run() -> int:
    prepare()
    from core import queues
    from portal import worker

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # One worker per pool, as in production (deploy/): enrollment never holds up a search. Locally the search
    # pool consumes every shard's queue.
    workers = {f"worker-{pool}": worker.command(pool, ["-l", "info", "--concurrency", "1"]) for pool in queues.pools()}
    commands = {
        "web": [PYTHON, "manage.py", "runserver", f"{HOST}:{PORT}", "--noreload"],
        **workers,
        "beat": [PYTHON, "-m", "celery", "-A", "portal", "beat", "-l", "info"],
    }
    processes = {name: subprocess.Popen(command, cwd=BASE_DIR, env=env) for name, command in commands.items()}
    stopping = False

    def stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        if wait_until_healthy(processes, lambda: stopping):
            say(f"Ready: http://{HOST}:{PORT}/  (Ctrl-C stops the portal, the workers and beat)")
        while not stopping and all(process.poll() is None for process in processes.values()):
            time.sleep(0.5)
        for name, process in processes.items():
            if process.poll() is not None and not stopping:
                say(f"{name} exited with code {process.returncode}; stopping the others")
    finally:
        shutdown(processes)
    return 0


def wait_until_healthy(processes: dict, stopping, timeout: float = 180) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stopping():
        if any(process.poll() is not None for process in processes.values()):
            return False
        try:
            with urllib.request.urlopen(f"http://{HOST}:{PORT}/healthz", timeout=10) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1)
    say("The portal did not become healthy; see http://127.0.0.1:8000/healthz")
    return False


def shutdown(processes: dict) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 20
    for name, process in processes.items():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"{name} did not stop in time; killing it")
            process.kill()
    say("Stopped. The local PostgreSQL and Redis keep running for manage.py; a second run reuses them "
        "(./dev.sh stop stops them).")


def stop() -> int:
    """Stops this checkout's own PostgreSQL and Redis (not a configured DATABASE_URL / REDIS_URL)."""
    if localservices.PGDATA.exists() and localservices.postgres_is_running():
        say("Stopping the local PostgreSQL (var/pgdata)")
        localservices.stop_postgres()
    if localservices.redis_is_up():
        say("Stopping the local Redis (var/redis)")
        localservices.stop_redis()
    say("The local PostgreSQL and Redis are stopped; ./dev.sh run or ./dev.sh test starts them again.")
    return 0


def test(arguments: list[str]) -> int:
    prepare()
    say("Checking that imports run one way (import-linter, contract in pyproject.toml)")
    if subprocess.call([str(Path(PYTHON).parent / "lint-imports")], cwd=BASE_DIR) != 0:
        return 1
    say("Running the test suite")
    # One string hashing for every run: schemathesis's invalid requests (tests/test_api_schema.py) depend on the
    # order of sets, and a derandomized run should send the same requests every time.
    env = {**os.environ, "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "0")}
    return subprocess.call([PYTHON, "-m", "pytest", *arguments], cwd=BASE_DIR, env=env)


USAGE = "usage: ./dev.sh run | ./dev.sh test [pytest arguments] | ./dev.sh stop | ./dev.sh backup DIR | " \
        "./dev.sh restore DIR"


def main() -> int:
    os.chdir(BASE_DIR)
    command, arguments = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if command == "run" and not arguments:
        return run()
    if command == "test":
        return test(arguments)
    if command == "stop" and not arguments:
        return stop()
    if command in {"backup", "restore"} and len(arguments) == 1:
        prepare_services()
        import django
        from django.core.management import call_command

        django.setup()
        call_command(f"{command}_portal", arguments[0])
        return 0
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
