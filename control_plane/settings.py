"""Control-plane settings, read from environment variables with safe production defaults.

With no environment at all the project runs as a local install on an embedded SQLite file
under ``$ASSAY_HOME`` (default ``./.assay``), so ``./dev run`` works out of the box.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _csv(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def database_from_url(url: str | None, *, home: Path) -> dict:
    """Translate ``DATABASE_URL`` into a Django ``DATABASES['default']`` entry."""
    if not url:
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(home / "control_plane.sqlite3")}
    parts = urlparse(url)
    if parts.scheme in {"postgres", "postgresql"}:
        options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")) or "postgres",
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": int(os.environ.get("ASSAY_DB_CONN_MAX_AGE", "60")),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    if parts.scheme == "sqlite":
        path = unquote(parts.path)
        if parts.netloc or not path or path == "/":
            # `sqlite://file.db` would silently be an in-memory database that vanishes.
            raise ImproperlyConfigured(
                f"DATABASE_URL {url!r}: write a SQLite file as sqlite:////absolute/path.db "
                "or sqlite:///relative/path.db"
            )
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path.removeprefix("/")}
    raise ImproperlyConfigured(
        f"DATABASE_URL scheme {parts.scheme!r} is not supported; use postgresql:// or sqlite://"
    )


def _secret_key(*, local: bool, home: Path) -> str:
    key = os.environ.get("ASSAY_SECRET_KEY")
    if key:
        return key
    if not local:
        raise ImproperlyConfigured(
            "ASSAY_SECRET_KEY is required with DATABASE_URL (unless ASSAY_DEBUG is on)"
        )
    # Local install: generate once and keep it under ASSAY_HOME so sessions survive restarts.
    path = home / "secret_key"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


ASSAY_HOME = Path(os.environ.get("ASSAY_HOME") or Path.cwd() / ".assay")
DATABASE_URL = os.environ.get("DATABASE_URL")
DEBUG = _flag("ASSAY_DEBUG")  # off unless asked, also for local installs
# A local install (the embedded SQLite, as `assay dev` runs it) works with no configuration.
LOCAL = not DATABASE_URL or DEBUG
SECRET_KEY = _secret_key(local=LOCAL, home=ASSAY_HOME)
BASE_URL = os.environ.get("ASSAY_BASE_URL", "http://127.0.0.1:3000").rstrip("/")
_TLS = BASE_URL.startswith("https://")

ALLOWED_HOSTS = _csv("ASSAY_ALLOWED_HOSTS") or sorted(
    {urlparse(BASE_URL).hostname or ""}
    | ({"127.0.0.1", "localhost", "testserver"} if LOCAL else set())
)
CSRF_TRUSTED_ORIGINS = [BASE_URL]

try:  # self-hosted Swagger/Redoc assets for the API docs page (no CDN)
    import drf_spectacular_sidecar  # noqa: F401

    _SIDECAR = True
except ImportError:
    _SIDECAR = False

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    *(["drf_spectacular_sidecar"] if _SIDECAR else []),
    "guardian",
    "axes",
    "control_plane.core",
    "control_plane.tenancy",
    "control_plane.audit",
    "control_plane.catalog",
    "control_plane.runs",
    "control_plane.agents",
    "control_plane.alerts",
    "control_plane.automation",
    "control_plane.backfills",
    "control_plane.daemon",
    "control_plane.branches",
    "control_plane.sso",
    "control_plane.api",
    "control_plane.identity",
    "control_plane.console",
    "billing",
]

MIDDLEWARE = [
    "control_plane.core.middleware.ApiErrorMiddleware",  # first: sees every /api/ error
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "control_plane.core.middleware.ApiTrailingSlashMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

ROOT_URLCONF = "control_plane.urls"
WSGI_APPLICATION = "control_plane.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "control_plane.console.context_processors.console",
            ]
        },
    }
]

DATABASES = {"default": database_from_url(DATABASE_URL, home=ASSAY_HOME)}
if (
    DATABASES["default"]["ENGINE"].endswith("sqlite3")
    and DATABASES["default"]["NAME"] != ":memory:"
):
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # `assay dev` runs several processes on this one file (web, gRPC, run daemon). WAL lets
    # readers work beside the single writer; IMMEDIATE takes the write lock when a transaction
    # begins (a deferred one that later writes fails at once with "database is locked"); the
    # timeout makes a writer wait for the lock rather than fail.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "tenancy.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out sign-in
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # django-guardian: no anonymous principal; no credentials is 401

USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
STATIC_URL = "/static/"
STATIC_ROOT = os.environ.get("ASSAY_STATIC_ROOT") or str(ASSAY_HOME / "static")

# Security: secure cookies and HSTS when served over TLS (ASSAY_BASE_URL is https://).
SESSION_COOKIE_SECURE = _TLS
CSRF_COOKIE_SECURE = _TLS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_HSTS_SECONDS = 31_536_000 if _TLS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = _TLS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if _flag("ASSAY_BEHIND_TLS_PROXY"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = _TLS
    # Orchestrators probe the pod over plain HTTP, behind the TLS proxy.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "control_plane.core.api.authentication.BearerTokenAuthentication",
        "control_plane.core.api.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["control_plane.core.api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "control_plane.core.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "control_plane.core.api.errors.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Assay control plane API",
    "VERSION": "v1",
    "DESCRIPTION": "Organizations, deployments, code locations (their load status and "
    "reload), members, teams, grants, tokens and the audit log; runs and their event logs, "
    "the asset catalog, schedules, sensors and their ticks, declarative automation and its "
    "evaluations, backfills, alert policies and incidents.",
    "SERVE_INCLUDE_SCHEMA": False,
    "PREPROCESSING_HOOKS": ["control_plane.core.api.schema.only_the_api"],
    **(
        {
            "SWAGGER_UI_DIST": "SIDECAR",
            "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
            "REDOC_DIST": "SIDECAR",
        }
        if _SIDECAR
        else {}
    ),
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "control_plane.tenancy.api.serializers.ROLE_CHOICES",
        "InstigatorStatusEnum": "control_plane.automation.models.InstigatorState.Status",
        "TickStatusEnum": "control_plane.automation.models.DaemonTick.Status",
    },
}

# Runs and agents: how often agents beat, and how long without a beat before an agent is
# declared lost (its runs then fail with "agent lost", or are retried per `max_retries`).
AGENT_HEARTBEAT_INTERVAL_SECONDS = int(os.environ.get("ASSAY_AGENT_HEARTBEAT_INTERVAL", "10"))
AGENT_HEARTBEAT_TIMEOUT_SECONDS = float(os.environ.get("ASSAY_AGENT_HEARTBEAT_TIMEOUT", "60"))
# How often an agent stream and the run daemon look for work (seconds): launch latency.
# On PostgreSQL they are woken by NOTIFY when there is work and only look every
# RUN_DISPATCH_FALLBACK_SECONDS in case a wake-up was lost; the poll is for SQLite.
RUN_DISPATCH_POLL_SECONDS = float(os.environ.get("ASSAY_RUN_DISPATCH_POLL", "0.02"))
RUN_DISPATCH_FALLBACK_SECONDS = float(os.environ.get("ASSAY_RUN_DISPATCH_FALLBACK", "1"))

# The daemon's loops (`run_daemon`): seconds between passes of each.
DAEMON_MONITOR_SECONDS = float(os.environ.get("ASSAY_DAEMON_MONITOR_INTERVAL", "5"))
DAEMON_SCHEDULE_SECONDS = float(os.environ.get("ASSAY_DAEMON_SCHEDULE_INTERVAL", "1"))
DAEMON_SENSOR_SECONDS = float(os.environ.get("ASSAY_DAEMON_SENSOR_INTERVAL", "1"))
DAEMON_ALERT_SECONDS = float(os.environ.get("ASSAY_DAEMON_ALERT_INTERVAL", "2"))
DAEMON_FRESHNESS_SECONDS = float(os.environ.get("ASSAY_DAEMON_FRESHNESS_INTERVAL", "60"))
DAEMON_BACKFILL_SECONDS = float(os.environ.get("ASSAY_DAEMON_BACKFILL_INTERVAL", "1"))
DAEMON_AUTOMATION_SECONDS = float(os.environ.get("ASSAY_DAEMON_AUTOMATION_INTERVAL", "30"))
# How long a sensor or schedule function may run on the agent before its tick fails.
TICK_TIMEOUT_SECONDS = int(os.environ.get("ASSAY_TICK_TIMEOUT", "60"))
# Daemon ticks and automation evaluations older than this are pruned (each schedule's,
# sensor's and loop's latest tick and each asset's latest evaluation are always kept).
TICK_RETENTION_DAYS = float(os.environ.get("ASSAY_TICK_RETENTION_DAYS", "30"))
DAEMON_RETENTION_SECONDS = float(os.environ.get("ASSAY_DAEMON_RETENTION_INTERVAL", "3600"))

# Alerts: email through SMTP (Django's email backend), webhooks over HTTP(S).
EMAIL_HOST = os.environ.get("ASSAY_SMTP_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("ASSAY_SMTP_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("ASSAY_SMTP_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("ASSAY_SMTP_PASSWORD", "")
_SMTP_TLS = os.environ.get("ASSAY_SMTP_TLS", "").strip().lower()
EMAIL_USE_SSL = _SMTP_TLS == "ssl"  # implicit TLS (port 465)
EMAIL_USE_TLS = _SMTP_TLS in {"1", "true", "yes", "on", "starttls"}  # STARTTLS
EMAIL_TIMEOUT = 10
ALERT_FROM_EMAIL = os.environ.get("ASSAY_ALERT_FROM", "Assay alerts <alerts@localhost>")
ALERT_MAX_ATTEMPTS = int(os.environ.get("ASSAY_ALERT_MAX_ATTEMPTS", "8"))
ALERT_RETRY_BASE_SECONDS = float(os.environ.get("ASSAY_ALERT_RETRY_BASE", "30"))
ALERT_RETRY_MAX_SECONDS = float(os.environ.get("ASSAY_ALERT_RETRY_MAX", "3600"))
ALERT_WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("ASSAY_ALERT_WEBHOOK_TIMEOUT", "10"))
# Webhooks to private/loopback addresses reach the control plane's own network: refused in
# production, allowed for a local install.
ALERT_WEBHOOK_ALLOW_PRIVATE = _flag("ASSAY_ALERT_WEBHOOK_ALLOW_PRIVATE", default=LOCAL)

# The console (control_plane/console) and its sign-in (control_plane/identity).
LOGIN_URL = "identity:sign_in"
LOGIN_REDIRECT_URL = "console:home"
LOGOUT_REDIRECT_URL = "identity:sign_in"
SESSION_COOKIE_AGE = int(os.environ.get("ASSAY_SESSION_SECONDS", str(14 * 24 * 3600)))
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Invitations and password resets are mailed through the SMTP settings alerts use.
DEFAULT_FROM_EMAIL = os.environ.get("ASSAY_MAIL_FROM", "Assay <assay@localhost>")
PASSWORD_RESET_TIMEOUT = 3600
# Failed sign-ins (django-axes): after ASSAY_SIGN_IN_FAILURE_LIMIT failures in a row for one
# email from one address, that pair is locked for ASSAY_SIGN_IN_LOCKOUT_MINUTES.
AXES_FAILURE_LIMIT = int(os.environ.get("ASSAY_SIGN_IN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("ASSAY_SIGN_IN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"  # the sign-in form's field (USERNAME_FIELD is email)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "identity/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "control_plane.core.api.authentication.client_ip"
AXES_VERBOSE = False
# Content-Security-Policy on every page (django-csp): our own scripts and styles only, no
# inline script. The API docs page (Redoc, with an inline bootstrap script) is left out.
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/api/v1/docs/"],
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("ASSAY_LOG_LEVEL", "INFO")},
}
# Email is unique case-insensitively (a functional unique constraint), which this check cannot see.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]

# Branch deployments: closed ones stay read-only this long, open ones close after this idle.
BRANCH_RETENTION_DAYS = int(os.environ.get("ASSAY_BRANCH_RETENTION_DAYS", "7"))
BRANCH_IDLE_DAYS = int(os.environ.get("ASSAY_BRANCH_IDLE_DAYS", "14"))
DAEMON_BRANCHES_SECONDS = float(os.environ.get("ASSAY_DAEMON_BRANCHES_SECONDS", "60"))
# How often PR comments catch up with branch code the agent loaded after the push.
DAEMON_BRANCH_COMMENTS_SECONDS = float(os.environ.get("ASSAY_DAEMON_BRANCH_COMMENTS_SECONDS", "10"))
# The audit chain's key (an HMAC per organization is derived from it). Its own setting so the
# SECRET_KEY can rotate without breaking verification; falls back to SECRET_KEY. Never logged.
AUDIT_CHAIN_KEY = os.environ.get("ASSAY_AUDIT_KEY") or SECRET_KEY
# How often the daemon signs a checkpoint of each audit chain's head (truncation shows).
DAEMON_AUDIT_CHECKPOINT_SECONDS = float(
    os.environ.get("ASSAY_DAEMON_AUDIT_CHECKPOINT_SECONDS", "300")
)
# Billing (the ``billing`` app): Stripe's API key and webhook signing secret, from the
# environment only; ``STRIPE_API_BASE`` points the library elsewhere (tests: a stand-in).
STRIPE_API_KEY = os.environ.get("STRIPE_API_KEY", "")
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "")
# The Stripe price of each self-serve plan: "solo=price_...,starter=price_...".
STRIPE_PRICE_IDS = dict(
    item.split("=", 1) for item in os.environ.get("STRIPE_PRICE_IDS", "").split(",") if "=" in item
)
BILLING_PAST_DUE_GRACE_DAYS = int(os.environ.get("ASSAY_BILLING_GRACE_DAYS", "7"))
