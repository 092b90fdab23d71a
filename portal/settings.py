"""
Settings for the POS Merchant Portal: one module, every value read once from the environment.

With no variables set this is a development setup that needs no servers: DEBUG on, SQLite and
an embedded (file-system) Celery broker under ``var/``, e-mail printed to the console.
Production sets ``DEBUG=false`` and must then provide ``SECRET_KEY`` and ``ALLOWED_HOSTS``;
``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL and Redis. The README lists every
variable.
"""

import os
from datetime import time, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ
from csp.constants import NONCE, NONE, SELF
from django.contrib.messages import constants as message_constants
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def env_seconds(name: str, default: int) -> int:
    value = env.int(name, default=default)
    if value <= 0:
        raise ImproperlyConfigured(f"{name} must be a positive number of seconds, got {value}")
    return value


# ---------------------------------------------------------------------------------------------
# Core
# ---------------------------------------------------------------------------------------------

DEBUG = env.bool("DEBUG", default=True)

# Everything the embedded setup writes (SQLite files, broker messages, beat schedule, uploads)
# lives here, so one folder can be deleted to start over.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

if DEBUG:
    SECRET_KEY = env.str(
        "SECRET_KEY", default="django-insecure-development-only-never-use-this-in-production"
    )
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
else:
    # Production must be configured on purpose: no fallback key, no wildcard host.
    SECRET_KEY = env.str("SECRET_KEY", default="")
    if not SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is false")

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Personal data at rest (core/pii.py): Fernet keys, the first encrypts, all decrypt; and the
# key of the blind indexes used to find duplicates. Their own variables, not SECRET_KEY, so
# rotating one does not touch the other.
PII_ENCRYPTION_KEYS = env.list("PII_ENCRYPTION_KEYS", default=[])
PII_HASH_KEY = env.str("PII_HASH_KEY", default="")
if DEBUG:
    PII_ENCRYPTION_KEYS = PII_ENCRYPTION_KEYS or ["ZGV2ZWxvcG1lbnQtb25seS1waWkta2V5LTMyYnl0ZXM="]
    PII_HASH_KEY = PII_HASH_KEY or "development-only-pii-hash-key"
elif not (PII_ENCRYPTION_KEYS and PII_HASH_KEY):
    raise ImproperlyConfigured(
        "PII_ENCRYPTION_KEYS and PII_HASH_KEY must be set when DEBUG is false"
    )

# The project's own apps, dependencies first. Each declares its routes, notification texts,
# staff permissions, beat entries and merchant-home panels in modules of its own, which the
# wiring collects (core/registry.py): a new app is one more line here.
PROJECT_APPS = [
    "core",
    "portal",
    "settlements",
    "disputes",
]

INSTALLED_APPS = [
    "portal.admin_apps.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "simple_history",
    *PROJECT_APPS,
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session gave the staff second factor.
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Records who made each change in the history tables.
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a lockout raised during login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.support",
                "portal.context_processors.notifications",
            ],
        },
    },
]

# ---------------------------------------------------------------------------------------------
# Database
# ---------------------------------------------------------------------------------------------

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # web, worker and beat share one file: WAL lets readers run beside a writer, and IMMEDIATE
    # transactions take the write lock up front instead of failing with "database is locked"
    # when two processes upgrade a read lock at once.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not :memory:, so that a real Celery worker started by a test sees the test data;
    # one per test run, so two runs in one checkout do not overwrite each other.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-portal-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# ---------------------------------------------------------------------------------------------
# Cache (and Redis)
# ---------------------------------------------------------------------------------------------


def redis_url_of_this_test_worker(url: str) -> str:
    """Under pytest-xdist the test suite runs in several processes at once (gw0, gw1…, named in
    PYTEST_XDIST_WORKER): each takes the Redis database after the configured one, plus its
    number, so no two share Celery queues, the broker's unacknowledged-message keys or cache
    entries. Anything else is returned as it is. (Test databases get a _gw0… suffix from
    pytest-django.)"""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not (worker.startswith("gw") and url.startswith(("redis://", "rediss://"))):
        return url
    parts = urlsplit(url)
    db = int(parts.path.strip("/") or 0) + 1 + int(worker.removeprefix("gw"))
    if db > 15:
        raise ImproperlyConfigured(f"{url}: no Redis database {db} for test worker {worker}")
    return urlunsplit(parts._replace(path=f"/{db}"))


REDIS_URL = redis_url_of_this_test_worker(env.str("REDIS_URL", default=""))
CACHE_URL = env.str("CACHE_URL", default=None)
CACHE_URL = REDIS_URL if CACHE_URL is None else redis_url_of_this_test_worker(CACHE_URL)

if CACHE_URL:
    CACHES = {"default": env.cache_url_config(CACHE_URL)}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CACHES["default"]["KEY_PREFIX"] = env.str("CACHE_KEY_PREFIX", default="portal")

# ---------------------------------------------------------------------------------------------
# Accounts and authentication
# ---------------------------------------------------------------------------------------------

AUTH_USER_MODEL = "portal.User"

AUTHENTICATION_BACKENDS = [
    # First, as django-axes asks: it refuses a locked-out login before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "portal.auth.LoginBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("username", "email", "mobile")},
    },
    {
        "NAME": "portal.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "portal:merchant-home"
LOGOUT_REDIRECT_URL = "portal:home"
PASSWORD_RESET_TIMEOUT = env_seconds("PASSWORD_RESET_TIMEOUT", 60 * 60 * 2)

SESSION_COOKIE_AGE = env_seconds("SESSION_COOKIE_AGE", 60 * 60 * 8)

# Failed-login lockout. Locking on the username + address pair stops password guessing without
# letting anyone lock a merchant out of their own account from elsewhere.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(seconds=env_seconds("AXES_COOLOFF_SECONDS", 30 * 60))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/lockout.html"
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "portal.auth.axes_username"
AXES_SENSITIVE_PARAMETERS = ["username", "password", "ip_address"]
# Successful log-ins (address, browser) are kept this long, then purged by a beat job.
LOGIN_LOG_RETENTION_DAYS = env.int("LOGIN_LOG_RETENTION_DAYS", default=90)
# Behind a reverse proxy set TRUSTED_PROXY_COUNT so lockouts key on the client, not the proxy.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXY_COUNT or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if AXES_IPWARE_PROXY_COUNT else ["REMOTE_ADDR"]
)

# ---------------------------------------------------------------------------------------------
# Internationalisation
# ---------------------------------------------------------------------------------------------

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [
    ("zh-hans", _("Simplified Chinese")),
    ("en", _("English")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["portal.formats"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# ---------------------------------------------------------------------------------------------
# Static files and uploads
# ---------------------------------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
if DEBUG:
    # WhiteNoise looks here at start-up; in development it is empty until collectstatic.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
    WHITENOISE_USE_FINDERS = True
# Uploaded files are private: there is deliberately no MEDIA_URL route; views serve them.
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Documents, contracts and signatures: a storage of their own (an S3-compatible bucket can
# replace it by changing STORAGES["private"]), only ever served through permission checks.
PRIVATE_MEDIA_ROOT = Path(env.str("PRIVATE_MEDIA_ROOT", default=str(VAR_DIR / "private")))
DOCUMENT_MAX_BYTES = env.int("DOCUMENT_MAX_BYTES", default=10 * 1024 * 1024)
# No uploaded file is stored past this (core.uploads.SizeLimitUploadHandler); the checks
# per kind of file (DOCUMENT_MAX_BYTES…) are smaller.
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=20 * 1024 * 1024)
FILE_UPLOAD_HANDLERS = ["core.uploads.SizeLimitUploadHandler"]

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "private": {"BACKEND": "core.storage.PrivateFileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# ---------------------------------------------------------------------------------------------
# E-mail
# ---------------------------------------------------------------------------------------------

if not DEBUG and "EMAIL_URL" not in os.environ:
    # Console e-mail in production would print password-reset links into the logs.
    raise ImproperlyConfigured("EMAIL_URL must be set when DEBUG is false")
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str(
    "DEFAULT_FROM_EMAIL", default="POS 商户门户 <noreply@pos-portal.local>"
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# ---------------------------------------------------------------------------------------------
# Security (production)
# ---------------------------------------------------------------------------------------------

# Error reports (mailed to ADMINS, the DEBUG page) print URLs, GET parameters, headers and local
# variables as they are; full ID and account numbers reach them through the admin search and
# the applicant's `values`. These mask every run of 12+ digits (core/error_reports.py).
DEFAULT_EXCEPTION_REPORTER = "core.error_reports.PIIExceptionReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "core.error_reports.PIIExceptionReporterFilter"

# Attempts per client address (per account where it says so) before 429; see core/ratelimit.py.
# django-axes separately locks an account after AXES_FAILURE_LIMIT wrong passwords.
RATE_LIMITS = {
    "signup": env.str("RATE_LIMIT_SIGNUP", default="10/h"),
    "login": env.str("RATE_LIMIT_LOGIN", default="30/10m"),
    "password_reset": env.str("RATE_LIMIT_PASSWORD_RESET", default="10/h"),
    # Reset e-mails to one address: beyond this the form still says "sent" but sends nothing.
    "password_reset_address": env.str("RATE_LIMIT_PASSWORD_RESET_ADDRESS", default="3/h"),
    # One-time signing codes per account (each send also waits a minute after the last).
    "one_time_code": env.str("RATE_LIMIT_ONE_TIME_CODE", default="10/h"),
}

# Staff give a second factor (an authenticator app's code, TOTP) after their password before
# any admin page opens; on by default in production mode. See portal/admin_site.py.
STAFF_REQUIRE_2FA = env.bool("STAFF_REQUIRE_2FA", default=not DEBUG)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="POS Merchant Portal")
# A member's TOTP secret is theirs alone: not even a superuser reads it back in the admin.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
# Every page's Content-Security-Policy (django-csp). Scripts only from the site itself or
# carrying this response's nonce (`{{ request.csp_nonce }}`), so injected markup cannot run
# script. Styles allow inline `style` attributes: the Django admin and the server-drawn charts
# use them, and CSS cannot run code. Images also from data: (Bootstrap's form icons) and
# blob: (the photo preview before an upload). A response that sets its own header keeps it
# (documents are served under a stricter one).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True

if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Load balancers probe over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# ---------------------------------------------------------------------------------------------
# UI
# ---------------------------------------------------------------------------------------------

MESSAGE_TAGS = {message_constants.ERROR: "danger"}

# History is a record; reverting to an old version would skip the status rules and events.
SIMPLE_HISTORY_REVERT_DISABLED = True

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# The portal's address in e-mails (links to an application, a reset page).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

ACQUIRER_NAME = env.str("ACQUIRER_NAME", default="示范收单机构 Demo Acquirer")
CONTRACT_SIGNING_DAYS = env.int("CONTRACT_SIGNING_DAYS", default=14)
CONTRACT_REMINDER_DAYS = env.int("CONTRACT_REMINDER_DAYS", default=3)
# A callable (mobile, text) that sends an SMS. In development it writes to the log; in
# production there is none until a gateway is configured, and codes go by e-mail only.
OTP_SMS_SENDER = env.str(
    "OTP_SMS_SENDER", default="portal.otp.log_sms" if DEBUG else "portal.otp.no_sms"
)

SUPPORT_PHONE = env.str("SUPPORT_PHONE", default="400-800-0000")
SUPPORT_EMAIL = env.str("SUPPORT_EMAIL", default="support@pos-portal.local")

# ---------------------------------------------------------------------------------------------
# Settlements
# ---------------------------------------------------------------------------------------------


def env_time(name: str, default: str) -> time:
    value = env.str(name, default=default)
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be a time of day like 23:00, got {value!r}"
        ) from None


# The acquirer this portal settles with: a short code stored on every transaction and payout,
# so a second acquirer can be added without renumbering anything.
ACQUIRER_CODE = env.str("ACQUIRER_CODE", default="demo")
# Transactions after the daily cut-off (Beijing time) count towards the next day.
SETTLEMENT_CUTOFF = env_time("SETTLEMENT_CUTOFF", "23:00")
# When a T+1 payout is expected in the merchant's bank account on its settlement day.
SETTLEMENT_ARRIVAL_TIME = env_time("SETTLEMENT_ARRIVAL_TIME", "10:00")
# When a D0 (same-day) payout is expected on the day of the transactions it carries.
SETTLEMENT_D0_ARRIVAL_TIME = env_time("SETTLEMENT_D0_ARRIVAL_TIME", "23:30")
# A payout not paid this long after its expected arrival is late ("24 小时未到账").
PAYOUT_LATE_AFTER = timedelta(hours=env.int("PAYOUT_LATE_AFTER_HOURS", default=24))
# Imports of reconciliation files insert this many staging lines per batch.
RECONCILIATION_BATCH_SIZE = env.int("RECONCILIATION_BATCH_SIZE", default=5000)

# The acquirer client (settlements/acquirer_client.py): timeouts on every call, retries of the
# calls that are safe to repeat, and the circuit breaker every worker shares. Acquirers
# themselves (address, key, secret, poll intervals) are configured in the admin.
ACQUIRER_CONNECT_TIMEOUT = env.float("ACQUIRER_CONNECT_TIMEOUT", default=5.0)
ACQUIRER_READ_TIMEOUT = env.float("ACQUIRER_READ_TIMEOUT", default=20.0)
ACQUIRER_RETRY_ATTEMPTS = env.int("ACQUIRER_RETRY_ATTEMPTS", default=4)
ACQUIRER_RETRY_MAX_WAIT = env.float("ACQUIRER_RETRY_MAX_WAIT", default=30.0)
# After this many failed calls in a row the breaker opens: no call for ACQUIRER_BREAKER_PAUSE
# seconds, then one call to see whether the acquirer is back.
ACQUIRER_BREAKER_FAILURES = env.int("ACQUIRER_BREAKER_FAILURES", default=5)
ACQUIRER_BREAKER_PAUSE = env_seconds("ACQUIRER_BREAKER_PAUSE", 60)
# Batch calls (the payout query) in flight at once per worker.
ACQUIRER_CONCURRENCY = env.int("ACQUIRER_CONCURRENCY", default=8)
# When set, every feed of every acquirer is polled this often instead of what the admin says
# (demos and tests want seconds).
ACQUIRER_POLL_SECONDS = env.int("ACQUIRER_POLL_SECONDS", default=0) or None
# How often beat looks for feeds whose interval has passed.
ACQUIRER_FEEDS_TICK_SECONDS = env_seconds("ACQUIRER_FEEDS_TICK_SECONDS", 10)
# /metrics (Prometheus): answered to a scraper giving this token (Authorization: Bearer …) or
# coming from one of these addresses; with neither set it does not exist.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])

# ---------------------------------------------------------------------------------------------
# API
# ---------------------------------------------------------------------------------------------

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes an anonymous API call answer 401, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # The API is the merchant's: staff work in the admin.
    "DEFAULT_PERMISSION_CLASSES": ["core.permissions.IsCustomer"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="30/minute"),
        "user": env.str("API_THROTTLE_USER", default="600/minute"),
    },
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # Throttles key on the client address; behind proxies that is in X-Forwarded-For, and
    # without a proxy count the header is the caller's to forge.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "POS Merchant Portal API",
    "DESCRIPTION": (
        "Merchant API: your own account, transactions and payouts. Authenticate with a token "
        "from the portal (`Authorization: Token <key>`) or a browser session."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# ---------------------------------------------------------------------------------------------
# Celery
# ---------------------------------------------------------------------------------------------

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=None)
CELERY_BROKER_URL = (
    (REDIS_URL or "filesystem://localhost//")
    if CELERY_BROKER_URL is None
    else redis_url_of_this_test_worker(CELERY_BROKER_URL)
)
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The embedded broker: messages are files under var/, shared by every process on this
    # machine. It needs no server; it is for development, not for more than one machine.
    _broker_dir = VAR_DIR / "celery-broker"
    for _folder in ("queue", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
    }
else:
    # Redis redelivers a message that was not acknowledged within this time. It must exceed
    # the longest task (acks_late holds the message until the task ends); far-future work is
    # swept from beat instead of scheduled with an ETA (DESIGN.md §9).
    # A worker sweeps for such messages every CELERY_RESTORE_SWEEP_SECONDS.
    _sweep = env_seconds("CELERY_RESTORE_SWEEP_SECONDS", 100)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_seconds("CELERY_VISIBILITY_TIMEOUT", 60 * 60),
        "unacked_restore_interval": min(10, _sweep),
        "unacked_restore_throttle": max(1, _sweep // 10),
    }

CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="portal")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_seconds("CELERY_TASK_SOFT_TIME_LIMIT", 4 * 60)
CELERY_TASK_TIME_LIMIT = env_seconds("CELERY_TASK_TIME_LIMIT", 5 * 60)
if CELERY_TASK_SOFT_TIME_LIMIT >= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured("CELERY_TASK_SOFT_TIME_LIMIT must be below CELERY_TASK_TIME_LIMIT")
if (
    CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", float("inf"))
    <= CELERY_TASK_TIME_LIMIT
):
    # Otherwise Redis hands a task that is still running to a second worker.
    raise ImproperlyConfigured("CELERY_VISIBILITY_TIMEOUT must exceed CELERY_TASK_TIME_LIMIT")
CELERY_TASK_ALWAYS_EAGER = False
# Tasks write their outcome to the database; nobody waits on a result.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

HEARTBEAT_INTERVAL_SECONDS = env_seconds("HEARTBEAT_INTERVAL_SECONDS", 60)
# Background jobs (core/jobs.py): a worker holds a job for this long and renews the hold while
# it works, so a job whose worker was killed is free again within it; beat sweeps for such jobs
# (and for queued ones no worker took) this often. Recovery takes at most about the two added.
JOB_LEASE_SECONDS = env_seconds("JOB_LEASE_SECONDS", 120)
JOB_SWEEP_SECONDS = env_seconds("JOB_SWEEP_SECONDS", 60)
# The beat schedule is collected from the apps' tasks.py (BEAT_SCHEDULE): portal/celery.py.

# ---------------------------------------------------------------------------------------------
# Logging
# ---------------------------------------------------------------------------------------------

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # django-axes announces itself at every start; keep its warnings (lockouts) only.
        "axes": {"level": "WARNING"},
    },
}
