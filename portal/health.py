"""The state of everything the portal needs to serve a search, answered within HEALTH_TIMEOUT_SECONDS
whatever is down: the checks run side by side, each with short timeouts of its own, and one that has not
answered by the deadline is reported down."""
from concurrent.futures import ThreadPoolExecutor, wait

import psycopg2
import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponseNotAllowed, JsonResponse

from portal.celery import ping

HEALTH_TIMEOUT_SECONDS = 1.5
HEALTH_PATH = "/healthz"


def check_database() -> dict:
    params = {**connection.get_connection_params(), "connect_timeout": 1, "options": "-c statement_timeout=1000"}
    with psycopg2.connect(**params) as db, db.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
    db.close()
    return {"database": "ok", "pgvector": row[0] if row else "missing"}


def check_redis() -> dict:
    redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1).ping()
    return {"redis": "ok"}


def check_workers() -> dict:
    result = ping.apply_async(expires=10, retry=False)
    try:
        return {"celery": "ok" if result.get(timeout=HEALTH_TIMEOUT_SECONDS) == "pong" else "no answer"}
    finally:
        result.forget()


CHECKS = {"database": check_database, "redis": check_redis, "celery": check_workers}


def health_report() -> tuple[bool, dict]:
    report: dict = {"pgvector": "unknown"}
    executor = ThreadPoolExecutor(max_workers=len(CHECKS))
    futures = {name: executor.submit(check) for name, check in CHECKS.items()}
    wait(futures.values(), timeout=HEALTH_TIMEOUT_SECONDS + 0.3)
    executor.shutdown(wait=False, cancel_futures=True)
    for name, future in futures.items():
        if not future.done():
            report[name] = "down: no answer in time"
        elif future.exception() is not None:  # any failure is a state to report, not a crash
            report[name] = f"down: {future.exception().__class__.__name__}"
        else:
            report.update(future.result())
    healthy = all(report[name] == "ok" for name in CHECKS) and report["pgvector"] not in {"missing", "unknown"}
    return healthy, report


class HealthCheckMiddleware:
    """Answers /healthz before sessions, authentication or the request's transaction, so that it reports what
    is down instead of failing with it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        if request.path != HEALTH_PATH:
            return self.get_response(request)
        if request.method not in {"GET", "HEAD"}:
            return HttpResponseNotAllowed(["GET", "HEAD"])
        healthy, report = health_report()
        report["status"] = "ok" if healthy else "degraded"
        response = JsonResponse(report, status=200 if healthy else 503)
        response["Cache-Control"] = "no-store"
        return response
