"""GET /metrics for Prometheus, never public: it answers only a scraper that sends METRICS_TOKEN as a bearer
token (and the TLS proxy lets only internal addresses reach it, deploy/nginx/faceportal.conf). Without
METRICS_TOKEN the endpoint does not exist.

Besides django-prometheus's request metrics (latency by view) and the portal's own (core/metrics.py), a scrape
reads two things of the moment: each queue's depth, and the age of the newest signed audit tree head."""
import hmac
import os

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from audit.log import newest_checkpoint_at
from core import queues
from core.jobs import queue_length

METRICS_PATH = "/metrics"


class MomentCollector:
    """Read at each scrape, from Redis and PostgreSQL."""

    def collect(self):
        depth = GaugeMetricFamily("portal_queue_depth", "Messages waiting in each Celery queue", labels=["queue"])
        for name in queues.all_queues():
            depth.add_metric([name], queue_length(name))
        yield depth
        newest = newest_checkpoint_at()
        age = GaugeMetricFamily("portal_audit_checkpoint_age_seconds",
                                "Age of the newest signed audit tree head (-1: none signed yet)")
        age.add_metric([], (timezone.now() - newest).total_seconds() if newest else -1)
        yield age


def scrape() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # every process of this host: gunicorn's and the workers'
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_ProcessRegistry())
    registry.register(MomentCollector())
    return generate_latest(registry)


class _ProcessRegistry:
    """This process's metrics (development and tests: no multiprocess directory)."""

    def collect(self):
        return REGISTRY.collect()


def authorized(request: HttpRequest) -> bool:
    expected = f"Bearer {settings.METRICS_TOKEN}"
    return hmac.compare_digest(request.headers.get("Authorization", "").encode(), expected.encode())


class MetricsMiddleware:
    """Answers /metrics before sessions, authentication or the tenant transaction, like /healthz."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        if request.path != METRICS_PATH or not settings.METRICS_TOKEN:
            return self.get_response(request)
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        if not authorized(request):
            return HttpResponse("unauthorized", status=401, content_type="text/plain",
                                headers={"WWW-Authenticate": "Bearer"})
        return HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)
