"""The state of everything the portal needs to serve a search."""
from django.conf import settings
from django.db import connection

from portal.celery import ping


def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
    return {"database": "ok", "pgvector": row[0] if row else "missing"}


def check_redis() -> str:
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    client.ping()
    return "ok"


def check_workers(timeout: float) -> str:
    result = ping.apply_async(expires=timeout + 5)
    try:
        return "ok" if result.get(timeout=timeout) == "pong" else "no answer"
    finally:
        result.forget()


def health_report(worker_timeout: float = 3.0) -> tuple[bool, dict]:
    report: dict = {}
    try:
        report.update(check_database())
    except Exception as error:  # any failure is a state to report, not a crash
        report.update(database=f"down: {error.__class__.__name__}", pgvector="unknown")
    for name, check in (("redis", check_redis), ("celery", lambda: check_workers(worker_timeout))):
        try:
            report[name] = check()
        except Exception as error:
            report[name] = f"down: {error.__class__.__name__}"
    healthy = all(report[key] == "ok" for key in ("database", "redis", "celery")) and report["pgvector"] not in {
        "missing",
        "unknown",
    }
    return healthy, report
