"""gunicorn for the portal, behind the TLS proxy (deploy/nginx/faceportal.conf): `gunicorn -c deploy/gunicorn.conf.py`.

Everything comes from the same environment as the portal (deploy/faceportal.env); the defaults suit one
host with the proxy in front on the same machine.
"""
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
wsgi_app = "portal.wsgi:application"
# Sync workers: the proxy buffers every request body and response, so a slow client never holds a worker
# and a worker is busy only for the time Django works (uploads are stored, recognition runs in Celery).
worker_class = "sync"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# A request that is not answered in this time is killed and logged; the proxy's proxy_read_timeout is longer.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Recycled workers keep memory bounded (Pillow and numpy buffers of large uploads).
max_requests = 2000
max_requests_jitter = 200
# Request bodies: the proxy refuses anything above MAX_BULK_UPLOAD_BYTES (client_max_body_size, the largest
# upload the portal takes) before it reaches gunicorn, and Django refuses a non-file body above
# DATA_UPLOAD_MAX_MEMORY_SIZE. gunicorn itself limits the request line and headers.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
# X-Forwarded-Proto (https) is believed only from the proxy, as X-Forwarded-For is by core.web.client_ip.
forwarded_allow_ips = os.environ.get("TRUSTED_PROXIES", "127.0.0.1")
# Django logs JSON lines itself (portal/logs.py); gunicorn's own access log would repeat them.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


def child_exit(server, worker) -> None:
    """Metrics of a dead worker process stop counting as live (prometheus_client's multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
