"""Settings for the face-search portal: one file, read from the environment.

Local development needs no environment at all: without DATABASE_URL / REDIS_URL the project's
own PostgreSQL (pgvector) and Redis under var/ are started or found. PORTAL_PRODUCTION=1 turns
on the hardened configuration that `manage.py check --deploy` accepts.
"""
import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from portal import localservices, logs
from portal.env import env_bool, env_float, env_int, env_list, env_networks, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("PORTAL_VAR_DIR", str(BASE_DIR / "var")))

PRODUCTION = env_bool("PORTAL_PRODUCTION", False)
DEBUG = env_bool("DEBUG", not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when PORTAL_PRODUCTION is set")

if PRODUCTION:
    SECRET_KEY = env_str("SECRET_KEY")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS is required when PORTAL_PRODUCTION is set")
else:
    SECRET_KEY = env_str("SECRET_KEY", "local-development-only-key-never-used-in-production-9f3b2c")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The reverse proxies (addresses or networks) whose X-Forwarded-For names the real client (core.web.client_ip);
# none by default: then lockout, rate limits and the audit log key on the connecting address.
TRUSTED_PROXIES = env_networks("TRUSTED_PROXIES", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_prometheus",
    "django_structlog",
    "core",
    "audit",
    "accounts",
    "billing",
    "search",
    "oversight",
    "privacy",
    "portal",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "portal.health.HealthCheckMiddleware",
    "portal.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "core.api.ApiErrorsMiddleware",
    "core.web.PrivateResponsesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # Outside the tenant transaction: the jobs a request enqueues on commit still carry its request id.
    "django_structlog.middlewares.RequestMiddleware",
    "accounts.middleware.TenantMiddleware",
    "billing.middleware.DemoEndedMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.sessions.SessionTimeoutMiddleware",
    "accounts.mfa.MfaRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "core.refusals.RefusalMiddleware",
    "core.outage.OutageMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

if PRODUCTION:  # runserver serves static files in development (and the TLS proxy in production, from disk)
    MIDDLEWARE.insert(MIDDLEWARE.index("portal.health.HealthCheckMiddleware") + 1,
                      "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "portal" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.navigation",
                "billing.context_processors.licence_notice",
            ],
        },
    },
]
FORM_RENDERER = "portal.forms.PortalFormRenderer"  # the design system's markup for every form


def _database_from_url(url: str) -> dict:
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured(f"DATABASE_URL must be a postgresql:// URL, not {parsed.scheme!r}")
    query = parse_qs(parsed.query)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parsed.path.lstrip("/")) or "postgres",
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": query.get("host", [parsed.hostname or ""])[0],
        "PORT": query.get("port", [str(parsed.port or "")])[0],
    }


def _local_database(role: str) -> dict:
    return {"ENGINE": "django.db.backends.postgresql", "NAME": localservices.LOCAL_DB_NAME, "USER": role,
            "PASSWORD": "", "HOST": localservices.ensure_postgres(), "PORT": ""}


def _with_common_options(database: dict) -> dict:
    return {
        **database,
        "CONN_MAX_AGE": env_int("DB_CONN_MAX_AGE", 60, minimum=0),
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {"connect_timeout": env_int("DB_CONNECT_TIMEOUT", 5, minimum=1)},
        "TEST": {"NAME": env_str("PORTAL_TEST_DB_NAME", "test_faceportal")},
    }


# "default" is the application's role (web and workers): it owns nothing and row-level security binds it.
# "owner" owns the schema and runs the migrations; the web and the workers never use it.
if "DATABASE_URL" in os.environ:
    DATABASES = {"default": _with_common_options(_database_from_url(env_str("DATABASE_URL")))}
    if "DATABASE_OWNER_URL" in os.environ:
        DATABASES["owner"] = _with_common_options(_database_from_url(env_str("DATABASE_OWNER_URL")))
else:
    DATABASES = {
        "default": _with_common_options(_local_database(localservices.LOCAL_DB_ROLE)),
        "owner": _with_common_options(_local_database(localservices.LOCAL_OWNER_ROLE)),
    }
# The role the application switches to for the named cross-agency paths (core.tenancy.CrossAgency).
DATABASE_PLATFORM_ROLE = env_str("DATABASE_PLATFORM_ROLE", f"{DATABASES['default']['USER']}_platform")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if "REDIS_URL" in os.environ:
    REDIS_URL = env_str("REDIS_URL")
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
else:
    _socket = localservices.ensure_redis()
    REDIS_URL = f"unix://{_socket}?db=0"
    CELERY_BROKER_URL = f"redis+socket://{_socket}"
    CELERY_RESULT_BACKEND = CELERY_BROKER_URL

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("PORTAL_CACHE_PREFIX", "portal"),
    }
}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["accounts.backends.EmailBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
INVITATION_TTL_HOURS = env_int("INVITATION_TTL_HOURS", 72, minimum=1)
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3600, minimum=300)

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "private"), "base_url": None},
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Uploaded photos never live under a public URL: they are served by views that check the agency.
PRIVATE_MEDIA_ROOT = Path(STORAGES["default"]["OPTIONS"]["location"])

MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_BYTES", 15 * 1024 * 1024, minimum=1024)
MAX_BULK_UPLOAD_BYTES = env_int("MAX_BULK_UPLOAD_BYTES", 500 * 1024 * 1024, minimum=1024)
MAX_IMAGE_PIXELS = env_int("MAX_IMAGE_PIXELS", 40_000_000, minimum=10_000)
DETECTION_MAX_SIDE = env_int("DETECTION_MAX_SIDE", 1024, minimum=160)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("DATA_UPLOAD_MAX_NUMBER_FILES", 1000, minimum=1)
DEFAULT_MATCH_THRESHOLD = env_float("DEFAULT_MATCH_THRESHOLD", 0.6)
DEFAULT_MAX_CANDIDATES = env_int("DEFAULT_MAX_CANDIDATES", 10, minimum=1)
# The face index of search.faceindex (the figures behind these defaults are in bench/README.md): one copy per
# host, in files under FACE_INDEX_DIR that the worker processes map.
FACE_INDEX_DIR = Path(env_str("FACE_INDEX_DIR", str(VAR_DIR / "faceindex")))
FACE_INDEX_MIN_FACES = env_int("FACE_INDEX_MIN_FACES", 20_000, minimum=1)  # smaller agencies: exact SQL scan
FACE_INDEX_IVF_FROM = env_int("FACE_INDEX_IVF_FROM", 250_000, minimum=1)  # smaller: exact in-memory scan
FACE_INDEX_PROBED_SHARE = env_float("FACE_INDEX_PROBED_SHARE", 0.2)  # share of the IVF lists read per query
FACE_INDEX_MAX_UNINDEXED = env_int("FACE_INDEX_MAX_UNINDEXED", 5_000, minimum=0)  # newer faces, scanned in SQL
FACE_INDEX_SETTLE_SECONDS = env_float("FACE_INDEX_SETTLE_SECONDS", 5.0)  # wait for open transactions before a build

# Queues by kind of work and search shard (core/queues.py): every name starts with PORTAL_QUEUE.
CELERY_TASK_DEFAULT_QUEUE = env_str("PORTAL_QUEUE", "portal")
CELERY_TASK_ROUTES = ["core.jobs.route_task"]
SEARCH_SHARDS = env_int("SEARCH_SHARDS", 1, minimum=1)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Only the health ping keeps a result; job state lives on the job rows users see.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_EXPIRES = 300
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=60)}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict = {
    "redrive-jobs": {"task": "core.redrive_jobs", "schedule": env_float("JOB_REDRIVE_EVERY_SECONDS", 15.0)},
    "audit-checkpoints": {"task": "oversight.record_audit_checkpoints", "schedule": 24 * 3600},
    # Looks every minute; signs a tree head for each log that grew and whose last head is old enough.
    "audit-tree-heads": {"task": "audit.sign_tree_heads", "schedule": 60},
    "billing-report-usage": {
        "task": "billing.report_usage",
        "schedule": env_int("BILLING_USAGE_REPORT_SECONDS", 900, minimum=60),
    },
}
TASK_MAX_RETRIES = env_int("TASK_MAX_RETRIES", 3, minimum=0)
# Durable jobs (core.jobs): a worker holds a job for this long and renews it while working; a job nobody
# claimed this long after it was sent is sent again once its queue is empty.
JOB_LEASE_SECONDS = env_int("JOB_LEASE_SECONDS", 60, minimum=3)
JOB_REDRIVE_AFTER_SECONDS = env_int("JOB_REDRIVE_AFTER_SECONDS", 60, minimum=1)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api_auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated", "billing.api.DemoNotEnded"],
    "EXCEPTION_HANDLER": "core.api.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "core.api.Pages",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Face-search portal API",
    "DESCRIPTION": "Agency-scoped galleries, enrollment and 1:N search. A match is a lead, not an identification.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The API's clients authenticate with a token; the session also works (for the browsable docs of a signed-in
    # person) but is not the API's contract, so the schema offers the token only.
    "AUTHENTICATION_WHITELIST": ["accounts.api_auth.ApiTokenAuthentication"],
    # The default hook (enums as components), then every operation's error answers (core/api.py).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "core.api.document_errors"],
    "ENUM_NAME_OVERRIDES": {
        "SearchStatusEnum": "search.models.Search.Status",
        "ImageStatusEnum": "search.models.GalleryImage.Status",
    },
}

# Stripe. The API version is pinned here and must match the webhook endpoint's version in the Stripe dashboard.
STRIPE_API_VERSION = "2026-10-28.endive"
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", None if PRODUCTION else "sk_test_local_development_key")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", None if PRODUCTION else "whsec_local_development_secret")
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "https://api.stripe.com")
STRIPE_TIMEOUT_SECONDS = env_int("STRIPE_TIMEOUT_SECONDS", 15, minimum=1)
STRIPE_WEBHOOK_TOLERANCE_SECONDS = 300
STRIPE_METER_EVENT_NAME = env_str("STRIPE_METER_EVENT_NAME", "face_searches")
BILLING_PAST_DUE_GRACE_DAYS = env_int("BILLING_PAST_DUE_GRACE_DAYS", 7, minimum=0)
BILLING_TRIAL_SEATS = env_int("BILLING_TRIAL_SEATS", 5, minimum=1)
BILLING_TRIAL_MONTHLY_SEARCHES = env_int("BILLING_TRIAL_MONTHLY_SEARCHES", 100, minimum=0)
BILLING_USAGE_REPORT_BATCH = env_int("BILLING_USAGE_REPORT_BATCH", 500, minimum=1)
DEMO_DEFAULT_DAYS = env_int("DEMO_DEFAULT_DAYS", 14, minimum=1)
DEMO_DEFAULT_SEARCH_CAP = env_int("DEMO_DEFAULT_SEARCH_CAP", 50, minimum=1)
DEMO_MAX_USERS = env_int("DEMO_MAX_USERS", 5, minimum=1)

EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if PRODUCTION else "django.core.mail.backends.console.EmailBackend",
)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "portal@localhost")

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Privacy and account security
SUPPRESSION_THRESHOLD = env_float("SUPPRESSION_THRESHOLD", DEFAULT_MATCH_THRESHOLD)
PROBE_RETENTION_DEFAULT_DAYS = env_int("PROBE_RETENTION_DEFAULT_DAYS", 90, minimum=1)
PROBE_RETENTION_MAX_DAYS = env_int("PROBE_RETENTION_MAX_DAYS", 365, minimum=1)
GALLERY_REVIEW_DEFAULT_DAYS = env_int("GALLERY_REVIEW_DEFAULT_DAYS", 3 * 365, minimum=1)
GALLERY_REVIEW_MAX_DAYS = env_int("GALLERY_REVIEW_MAX_DAYS", 3 * 365, minimum=1)  # BIPA's three years
ERASURE_REQUESTS_PER_IP_PER_HOUR = env_int("ERASURE_REQUESTS_PER_IP_PER_HOUR", 3, minimum=1)
ERASURE_FORM_MIN_SECONDS = env_int("ERASURE_FORM_MIN_SECONDS", 3, minimum=0)
TENANT_POLICY_DEFAULT_COUNTRIES = env_list("TENANT_POLICY_DEFAULT_COUNTRIES", ["FR", "GB", "US"])
TENANT_POLICY_DEFAULT_KINDS = ["law_enforcement", "government", "private"]
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 10, minimum=1)
SESSION_IDLE_TIMEOUT = env_int("SESSION_IDLE_TIMEOUT", 30 * 60, minimum=60)
SESSION_ABSOLUTE_TIMEOUT = env_int("SESSION_ABSOLUTE_TIMEOUT", 12 * 3600, minimum=300)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_TIMEOUT
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Face-search portal")
# Signed tree heads of the audit log (audit/heads.py): the platform's Ed25519 key (PEM, PKCS#8). Development
# generates one into var/ on first use; production must set it.
AUDIT_SIGNING_KEY = env_str("AUDIT_SIGNING_KEY", None if PRODUCTION else "")
AUDIT_SIGNING_KEY_FILE = VAR_DIR / "audit-signing-key.pem"
AUDIT_HEAD_INTERVAL_SECONDS = env_int("AUDIT_HEAD_INTERVAL_SECONDS", 300, minimum=1)
# Where every signed head is also written, outside the database: a class with write(head) and heads(log).
AUDIT_HEAD_SINK = env_str("AUDIT_HEAD_SINK", "audit.sink.DirectorySink")
AUDIT_HEAD_SINK_DIR = Path(env_str("AUDIT_HEAD_SINK_DIR", str(VAR_DIR / "audit-heads")))
CELERY_BEAT_SCHEDULE["privacy-retention-purge"] = {
    "task": "privacy.purge_due_data",
    "schedule": crontab(hour=env_int("RETENTION_PURGE_HOUR", 3, minimum=0), minute=15),
}
# A beat that runs only part of the schedule (the test suite's workers re-drive jobs and do nothing else).
_BEAT_ONLY = env_list("PORTAL_BEAT_ONLY", [])
if set(_BEAT_ONLY) - set(CELERY_BEAT_SCHEDULE):
    raise ImproperlyConfigured(f"PORTAL_BEAT_ONLY names unknown beat entries; known: {sorted(CELERY_BEAT_SCHEDULE)}")
if _BEAT_ONLY:
    CELERY_BEAT_SCHEDULE = {name: entry for name, entry in CELERY_BEAT_SCHEDULE.items() if name in _BEAT_ONLY}

# Structured logs (portal/logs.py): JSON lines in production, key=value lines in development.
LOGGING = logs.configure(json=env_bool("LOG_JSON", PRODUCTION))
LOGGING["root"]["level"] = env_str("LOG_LEVEL", "INFO")
DJANGO_STRUCTLOG_CELERY_ENABLED = True
DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = False  # ipware would believe any X-Forwarded-For; accounts binds client_ip
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # the workers log through LOGGING too

LOGGING.setdefault("loggers", {}).update({"weasyprint": {"level": "WARNING"}, "fontTools": {"level": "WARNING"}})

# Prometheus (portal/metrics.py): /metrics exists only with a token, which the scraper sends as a bearer token.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
PROMETHEUS_EXPORT_MIGRATIONS = False

# Content-Security-Policy (django-csp): scripts only from the portal's own static files, never inline (templates
# carry no <script> body and no on* handler: portal/static/portal/portal.js binds behaviour). Inline styles stay
# allowed for htmx's indicator style; images may be data: URIs (the enrollment QR code).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
