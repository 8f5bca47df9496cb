"""The README's two commands: `./dev.sh run` (portal + worker + beat) and `./dev.sh test` (the suite).

Both prepare the same things first: the local PostgreSQL and Redis when none is configured,
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


def prepare() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    if "DATABASE_URL" not in os.environ:
        say("Starting the local PostgreSQL with pgvector (data in var/pgdata)")
        localservices.ensure_local_database(localservices.ensure_postgres())
    if "REDIS_URL" not in os.environ:
        say("Starting the local Redis (data in var/redis)")
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
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    commands = {
        "web": [PYTHON, "manage.py", "runserver", f"{HOST}:{PORT}", "--noreload"],
        "worker": [PYTHON, "-m", "celery", "-A", "portal", "worker", "-l", "info", "--concurrency", "2"],
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
            say(f"Ready: http://{HOST}:{PORT}/  (Ctrl-C stops the portal, the worker and beat)")
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
    say("Stopped. The local PostgreSQL and Redis keep running for manage.py; a second run reuses them.")


def test(arguments: list[str]) -> int:
    prepare()
    say("Checking that imports run one way (import-linter, contract in pyproject.toml)")
    if subprocess.call([str(Path(PYTHON).parent / "lint-imports")], cwd=BASE_DIR) != 0:
        return 1
    say("Running the test suite")
    return subprocess.call([PYTHON, "-m", "pytest", *arguments], cwd=BASE_DIR)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in {"run", "test"}:
        print("usage: ./dev.sh run | ./dev.sh test [pytest arguments]", file=sys.stderr)
        return 2
    os.chdir(BASE_DIR)
    return run() if sys.argv[1] == "run" else test(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
