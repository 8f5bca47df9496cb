"""A per-IP rate limit in the Redis cache, for the public erasure form."""
import time

from django.conf import settings
from django.core.cache import cache

from core.web import client_ip


def erasure_rate_key(ip: str | None) -> str:
    return f"erasure-requests:{ip or 'unknown'}:{int(time.time() // 3600)}"


def take_erasure_slot(request) -> bool:
    """Counts one submission from the client's address this hour; False once over the limit."""
    key = erasure_rate_key(client_ip(request))
    cache.add(key, 0, timeout=2 * 3600)
    return cache.incr(key) <= settings.ERASURE_REQUESTS_PER_IP_PER_HOUR
