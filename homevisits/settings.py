"""Settings for homevisits, read from the environment with django-environ.

With no environment at all (apart from DEBUG=true) the app runs on an embedded default: a SQLite
file and a filesystem Celery broker under var/, and notifications printed to the console. In
production the same code reads PostgreSQL, Redis and GOV.UK Notify settings from the environment.
Every variable is listed, with its meaning, in .env.example.
"""

import os
import re
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from homevisits.database import apply_timeouts

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
_env_file = Path(os.environ.get("ENV_FILE", BASE_DIR / ".env"))
if _env_file.is_file():
    env.read_env(_env_file)

DEBUG = env.bool("DEBUG", default=False)


def _required_in_production(name, value):
    """Fail at start, naming the variable, when production lacks a safe value."""
    if not DEBUG and not value:
        raise ImproperlyConfigured(
            f"{name} must be set when DEBUG is off. See .env.example for what it means."
        )
    return value


_DEV_SECRET_KEY = "dev-only-insecure-key-never-use-in-production-0123456789abcdef"
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else "")
_required_in_production("SECRET_KEY", SECRET_KEY)
if not DEBUG and (SECRET_KEY == _DEV_SECRET_KEY or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured(
        "SECRET_KEY must be a random value of at least 50 characters when DEBUG is off."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
_required_in_production("ALLOWED_HOSTS", ALLOWED_HOSTS)
# Health checks from inside the container or host call the app by its loopback name.
ALLOWED_HOSTS += ["localhost", "127.0.0.1"]
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# The public address used in links inside SMS and email bodies.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000" if DEBUG else "")
_required_in_production("SITE_URL", SITE_URL)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "ninja",
    "csp",
    # Our apps, in dependency order: each may import only the ones above it.
    "homevisits",
    "riskassess",
    "visits",
    "tracking",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below whitenoise, so static files keep their long caching and carry none of these.
    "homevisits.middleware.NoStoreMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    # Above everything that answers for the app, so the API's errors are JSON whoever made them;
    # below the header middleware, so its JSON answers carry no-store and the policies too.
    "homevisits.errors.ApiErrorsAsJsonMiddleware",
    # The service worker, manifest and offline page, answered without loading the session.
    "homevisits.middleware.AppShellMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Renews a session's idle clock at most once a minute instead of writing it on every request.
    "homevisits.middleware.SessionIdleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "homevisits.middleware.TwoFactorRequiredMiddleware",
    "homevisits.idempotency.SubmissionKeyMiddleware",
    # Axes must come last so that it sees the outcome of authentication.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "homevisits.urls"
API_ROUTERS = {"/visits": "visits.api.router", "/tracking": "tracking.api.router"}
# The only endpoints a check-ins-only API token reaches (URL names; see homevisits.api_auth).
API_CHECK_IN_ENDPOINTS = ["api:check_in", "api:still_safe"]
# Extra checks that /healthz runs, by name; each returns a homevisits.selectors.HealthCheck.
# Whether a team has monitored visits still to come, asked before its settings may leave it
# with nobody to alert (homevisits cannot import the apps above it).
MONITORED_VISITS_CHECK = "tracking.selectors.has_monitored_visits"
HEALTH_CHECKS = {
    "sweep": "tracking.health.sweep_heartbeat",
    "ladder": "tracking.health.ladder_errors",
}
# Services of higher apps that re-derive what they store from a team's policy, called by
# homevisits.services.team_policy_update inside its transaction (keyword argument `policy`).
TEAM_POLICY_FOLLOWERS = [
    "visits.services.visit_alerts_follow_policy",
    "visits.outlook.outlook_events_follow_policy",
    "tracking.services.phone_in_days_follow_policy",
]
# Called by visits' services when visits are booked, changed, cancelled or finished, and by
# riskassess when a household's risk is decided: tracking keeps each worker's next phone-in.
VISIT_FOLLOWERS = ["tracking.services.phone_in_days_follow_visits"]
RISK_DECISION_FOLLOWERS = ["tracking.services.phone_in_days_follow_household"]
# Services of higher apps that revoke a person's secrets (calendar feeds), called by
# homevisits.services.user_secrets_revoke with `user` and `now` in the same transaction as the
# person's API tokens; each returns {"what it revoked": count}.
SECRET_TOKEN_REVOKERS = ["visits.services.calendar_feeds_revoke_for_user"]
# Each app above homevisits lists its pages in the navigation's menus through one of these
# callables (see homevisits.context_processors), in this order within each menu.
NAVIGATION_EXTENSIONS = [
    "tracking.navigation.nav_items",
    "riskassess.navigation.nav_items",
    "visits.navigation.nav_items",
]
# The audit log names households and links each line to the page it is about; those live in
# the apps above homevisits. Object types (homevisits.models.AuditObject) map to URL names.
AUDIT_HOUSEHOLD_NAMES = "riskassess.selectors.household_names"
AUDIT_HOUSEHOLD_PAGE = "household-audit"
AUDIT_OBJECT_PAGES = {
    "household": "household-detail",
    "risk_assessment": "assessment-detail",
    "visit": "visit-detail",
    "case": "case-detail",
    "escalation": "escalation-detail",
}
# Links that higher apps add to a team's page: callables (request, team, capabilities) returning
# [{"label", "url"}], for the pages of that team the person may open.
TEAM_PAGE_LINKS = ["tracking.navigation.team_page_links"]
# Panels that higher apps add to the home page: callables returning {"template", ...} or None.
HOME_PANELS = ["tracking.navigation.home_panel"]
# Where the home page sends someone instead (a worker to their day): callables taking request,
# capabilities and memberships, returning a URL or None; the first URL wins.
HOME_LANDING = ["tracking.navigation.landing_page"]
# The installed app's first page (web app manifest): the worker's day, by URL name.
APP_START_PAGE = "tracking-now"
WSGI_APPLICATION = "homevisits.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "homevisits.context_processors.navigation",
            ],
        },
    },
    {
        # Only for templates that render hundreds of rows every few seconds: see jinja2.py.
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "homevisits.jinja2.environment"},
    },
]

# Database: a SQLite file by default, DATABASE_URL (postgres://…) in production.
VAR_DIR.mkdir(exist_ok=True)
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'homevisits.sqlite3'}"),
}
if not DATABASES["default"].get("ENGINE"):
    raise ImproperlyConfigured(
        "DATABASE_URL is not a database address. Use postgres://user:password@host:5432/name."
    )
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web, worker and beat processes share one file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Time limits in seconds (PostgreSQL), so that a database that is down or silent fails a request
# quickly instead of holding it: for connecting, and for any one statement. Celery's worker and
# beat use their own statement limit (the sweep waits out a web request's locks; housekeeping
# tasks work in batches that each finish well within it). `migrate` runs without one.
DATABASE_CONNECT_TIMEOUT = env.int("DATABASE_CONNECT_TIMEOUT", default=5)
DATABASE_STATEMENT_TIMEOUT = env.int("DATABASE_STATEMENT_TIMEOUT", default=15)
DATABASE_WORKER_STATEMENT_TIMEOUT = env.int("DATABASE_WORKER_STATEMENT_TIMEOUT", default=30)
if DATABASE_CONNECT_TIMEOUT < 1:
    raise ImproperlyConfigured("DATABASE_CONNECT_TIMEOUT must be a whole number of seconds, 1+.")
for _name in ("DATABASE_STATEMENT_TIMEOUT", "DATABASE_WORKER_STATEMENT_TIMEOUT"):
    if globals()[_name] < 0:
        raise ImproperlyConfigured(f"{_name} must be a whole number of seconds (0: no limit).")
apply_timeouts(
    DATABASES["default"],
    connect_seconds=DATABASE_CONNECT_TIMEOUT,
    statement_seconds=DATABASE_STATEMENT_TIMEOUT,
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Refuses passwords where a site turned them off (PASSWORD_SIGN_IN below).
    "homevisits.auth_backends.PasswordSignInSwitch",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Sessions end after this many minutes without a request (to within a minute: a session is
# saved, and its expiry pushed on, at most once a minute; see SessionIdleMiddleware).
SESSION_IDLE_MINUTES = env.int("SESSION_IDLE_MINUTES", default=30)
if SESSION_IDLE_MINUTES <= 0:
    raise ImproperlyConfigured("SESSION_IDLE_MINUTES must be a positive number of minutes.")
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = False

# Failed logins (django-axes): after 5 failures for one username from one address, that pair is
# locked out for 15 minutes. A successful login resets the count. Both are deliberate choices:
# long enough to stop guessing, short enough that a worker on a visit is not locked out for hours.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# How many reverse proxies stand in front of the app (0: none, clients connect directly). With N,
# the Nth address from the right of X-Forwarded-For is the client's: see client_ip.py. Too high a
# count lets anyone choose their address (and dodge the lockout); too low locks out everyone
# behind the proxy together. The environment variable keeps its old name; the setting may not,
# because django-axes warns about its own retired AXES_PROXY_COUNT.
TRUSTED_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("AXES_PROXY_COUNT must be 0 (no proxy) or the number of proxies.")
AXES_CLIENT_IP_CALLABLE = "homevisits.client_ip.client_ip_address"
AXES_VERBOSE = False
# Two-factor sign-in (django-otp) for managers and designated persons: the name that
# authenticator apps show beside the code.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="homevisits")
# Wrong codes: after this many in a row (app and backup codes counted together), the person's
# second factor is paused for this many minutes and they are emailed. The count lives in our own
# table (models.TwoFactorFailures), so django-otp's per-device throttle, whose pause doubles
# without end and cannot be told to the person as a time, is turned off.
TWO_FACTOR_FAILURE_LIMIT = env.int("TWO_FACTOR_FAILURE_LIMIT", default=5)
TWO_FACTOR_LOCKOUT_MINUTES = env.int("TWO_FACTOR_LOCKOUT_MINUTES", default=15)
if TWO_FACTOR_FAILURE_LIMIT < 1 or TWO_FACTOR_LOCKOUT_MINUTES < 1:
    raise ImproperlyConfigured(
        "TWO_FACTOR_FAILURE_LIMIT and TWO_FACTOR_LOCKOUT_MINUTES must be 1 or more."
    )
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0

# Sign in with Microsoft: OpenID Connect with Microsoft Entra ID (mozilla-django-oidc; see
# homevisits/oidc.py and the README). On when an app registration's client id is set. Accounts
# are never made here: a Microsoft account signs in to the staff account it matches, or not.
OIDC_RP_CLIENT_ID = env.str("OIDC_RP_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env.str("OIDC_RP_CLIENT_SECRET", default="")
OIDC_ENABLED = env.bool("OIDC_ENABLED", default=bool(OIDC_RP_CLIENT_ID))
# The council's Directory (tenant) ID, a GUID: only its own accounts may sign in.
ENTRA_TENANT_ID = env.str("ENTRA_TENANT_ID", default="").strip().lower()
# Where the authorize, token and signing-key endpoints are; tests point it at a local fake.
OIDC_LOGIN_BASE_URL = env.str(
    "OIDC_LOGIN_BASE_URL", default="https://login.microsoftonline.com"
).rstrip("/")
# Microsoft's v2.0 ID tokens do not say whether multi-factor authentication was used (no `amr`
# claim), so managers still type their app code after a Microsoft sign-in. A tenant whose
# Conditional Access policy requires MFA for this app may say so here: every Microsoft sign-in
# then counts as the second factor.
ENTRA_REQUIRES_MFA = env.bool("ENTRA_REQUIRES_MFA", default=False)
# Off: the sign-in page offers only Microsoft, and passwords are refused everywhere, except a
# superuser's at /admin/login/ when SUPERUSER_PASSWORD_SIGN_IN is on (break-glass, for when
# Microsoft sign-in is broken; their second factor is still asked for).
PASSWORD_SIGN_IN = env.bool("PASSWORD_SIGN_IN", default=True)
SUPERUSER_PASSWORD_SIGN_IN = env.bool("SUPERUSER_PASSWORD_SIGN_IN", default=False)
if OIDC_ENABLED:
    for _name in ("OIDC_RP_CLIENT_ID", "OIDC_RP_CLIENT_SECRET", "ENTRA_TENANT_ID"):
        if not globals()[_name]:
            raise ImproperlyConfigured(f"{_name} must be set for Sign in with Microsoft.")
    if not re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", ENTRA_TENANT_ID):
        raise ImproperlyConfigured(
            "ENTRA_TENANT_ID must be the Directory (tenant) ID, a GUID, not 'common' or a "
            "domain name: only the council's own accounts may sign in."
        )
    if not OIDC_LOGIN_BASE_URL.startswith("https://") and not DEBUG:
        raise ImproperlyConfigured("OIDC_LOGIN_BASE_URL must be an https:// address.")
if not PASSWORD_SIGN_IN and not OIDC_ENABLED:
    raise ImproperlyConfigured(
        "PASSWORD_SIGN_IN=false needs Sign in with Microsoft (OIDC_RP_CLIENT_ID and the rest): "
        "otherwise nobody could sign in."
    )
# For mozilla-django-oidc. Its endpoints (OIDC_OP_*) are derived from the base URL and tenant in
# homevisits/oidc.py. The ID token is checked: RS256 signature against the tenant's published
# keys, issuer, audience, expiry, the nonce sent, and PKCE binds the code to this browser.
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_RP_SCOPES = "openid email profile"
OIDC_USE_NONCE = True
OIDC_USE_PKCE = True
OIDC_TIMEOUT = 10
OIDC_CREATE_USER = False
OIDC_STORE_ACCESS_TOKEN = False
OIDC_STORE_ID_TOKEN = False
# The account picker every time, so that on a shared computer nobody is signed in silently as
# the previous person.
OIDC_AUTH_REQUEST_EXTRA_PARAMS = {"prompt": "select_account"}
# Personal API tokens stop working after this many days; whoever makes one may choose fewer.
API_TOKEN_DAYS = env.int("API_TOKEN_DAYS", default=90)
if API_TOKEN_DAYS < 1:
    raise ImproperlyConfigured("API_TOKEN_DAYS must be 1 or more.")

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every request when it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Celery: the filesystem broker under var/ by default, CELERY_BROKER_URL (redis://…) in production.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
# How often beat asks the escalation sweep to look for due work.
SWEEP_INTERVAL_SECONDS = env.float("SWEEP_INTERVAL_SECONDS", default=1.0)
# Redis: a limit in seconds on connecting and on each command, so that a Redis that stops
# answering fails a publish (web requests queue deliveries) or a worker's read within seconds
# instead of hanging it.
BROKER_SOCKET_TIMEOUT = env.float("BROKER_SOCKET_TIMEOUT", default=5.0)
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": BROKER_SOCKET_TIMEOUT,
        "socket_timeout": BROKER_SOCKET_TIMEOUT,
    }
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_folder = VAR_DIR / "celery-broker"
    _broker_folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_folder),
        "data_folder_out": str(_broker_folder),
        "processed_folder": str(_broker_folder),
        # kombu otherwise writes its exchange table to ./control, wherever the process started.
        "control_folder": str(_broker_folder / "control"),
        "store_processed": False,
    }
# A web request nudges delivery after a write; beat runs it every few seconds anyway (the outbox
# is in the database), so a publish to an unanswering broker is tried once, not retried for
# Celery's default of about 20 seconds while the worker's request waits.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 0}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Ladder timing never uses ETA or countdown: beat asks the sweep to look, and the database says
# what is due (see DESIGN.md).
CELERY_BEAT_SCHEDULE = {
    "sweep": {"task": "tracking.tasks.sweep", "schedule": SWEEP_INTERVAL_SECONDS},
    "deliver": {"task": "tracking.tasks.deliver", "schedule": 5.0},
    # Outlook events that are due (new, changed, or waiting out a retry); booking also queues a
    # run as it commits, so this only picks up retries and anything a lost message left behind.
    "outlook-sync": {
        "task": "visits.tasks.outlook_sync",
        "schedule": env.float("OUTLOOK_SYNC_INTERVAL_SECONDS", default=5.0),
    },
    # A safety net under the stored phone-in deadlines: today's worked out afresh, and any
    # difference stored and logged as an error.
    "phone-ins": {"task": "tracking.tasks.phone_ins_reconcile", "schedule": 300.0},
    # Once a day, at a quiet hour (UTC), delete or anonymise what the retention schedule says
    # has expired.
    "retention": {"task": "homevisits.tasks.retention", "schedule": crontab(hour=2, minute=30)},
}

# Retention schedule (UK GDPR storage limitation): how long each kind of data is kept, counted
# from the moment the README's "Retention" table names (a visit's end, a ladder's closing, …).
# Each is overridable in days with RETENTION_<KEY>_DAYS, e.g. RETENTION_CHECK_INS_DAYS=180.
_RETENTION_DEFAULT_DAYS = {
    "submission_keys": 2,
    "expired_sessions": 0,
    "login_attempts": 90,
    "notification_bodies": 90,
    "check_ins": 365,
    "revoked_tokens": 365,
    "visits": 2 * 365,
    "closed_cases": 2 * 365,
    "duty_records": 2 * 365,
    "closed_households": 2 * 365,
    "escalations": 6 * 365,
    "audit": 6 * 365,
    "outlook_sync": 90,
}
RETENTION = {
    key: timedelta(days=env.int(f"RETENTION_{key.upper()}_DAYS", default=days))
    for key, days in _RETENTION_DEFAULT_DAYS.items()
}
for _key, _kept in RETENTION.items():
    if _kept < timedelta(0):
        raise ImproperlyConfigured(f"RETENTION_{_key.upper()}_DAYS cannot be negative.")
# The database refuses to delete audit lines younger than a year, whatever this says.
if RETENTION["audit"] < timedelta(days=365):
    raise ImproperlyConfigured("RETENTION_AUDIT_DAYS must be at least 365.")
# Each app owns the rules for its own tables; the daily run takes them in this order, so that
# what a record holds on to (an escalation keeps its visit) goes first.
RETENTION_RULES = [
    "tracking.retention.rules",
    "visits.retention.rules",
    "riskassess.retention.rules",
    "homevisits.retention.rules",
]
# Rows that a higher app still needs, which a lower app's rule must keep (it cannot import the
# higher app): each callable returns a queryset of the primary keys to keep.
RETENTION_HOLDS = {
    "visits": ["tracking.retention.visits_held"],
    "households": [
        "visits.retention.households_with_visits",
        "visits.retention.households_with_cases",
    ],
}
# Leavers (homevisits.leavers.user_anonymise): higher apps say why someone cannot be
# anonymised yet (callables returning a list of reasons), then scrub or revoke what they hold.
LEAVER_CHECKS = ["visits.leavers.refusals", "tracking.leavers.refusals"]
LEAVER_FOLLOWERS = ["visits.leavers.anonymise", "tracking.leavers.anonymise"]

# Notifications: "console" prints them; "notify" sends through GOV.UK Notify.
NOTIFICATION_BACKEND = env.str("NOTIFICATION_BACKEND", default="console")
if NOTIFICATION_BACKEND not in {"console", "notify"}:
    raise ImproperlyConfigured("NOTIFICATION_BACKEND must be 'console' or 'notify'.")
NOTIFY_API_KEY = env.str("NOTIFY_API_KEY", default="")
NOTIFY_BASE_URL = env.str("NOTIFY_BASE_URL", default="https://api.notifications.service.gov.uk")
# Each template's body is just ((body)): the app writes the words, Notify delivers them.
NOTIFY_SMS_TEMPLATE_ID = env.str("NOTIFY_SMS_TEMPLATE_ID", default="")
NOTIFY_EMAIL_TEMPLATE_ID = env.str("NOTIFY_EMAIL_TEMPLATE_ID", default="")
if NOTIFICATION_BACKEND == "notify":
    for _name in ("NOTIFY_API_KEY", "NOTIFY_SMS_TEMPLATE_ID", "NOTIFY_EMAIL_TEMPLATE_ID"):
        if not globals()[_name]:
            raise ImproperlyConfigured(
                f"{_name} must be set when NOTIFICATION_BACKEND is 'notify'."
            )
# Outbox delivery: a sender's lease, and retries with exponential backoff up to a limit.
NOTIFICATION_LEASE_SECONDS = env.int("NOTIFICATION_LEASE_SECONDS", default=60)
NOTIFICATION_MAX_ATTEMPTS = env.int("NOTIFICATION_MAX_ATTEMPTS", default=5)
NOTIFICATION_RETRY_BASE_SECONDS = env.int("NOTIFICATION_RETRY_BASE_SECONDS", default=10)

# Web Push alerts to phones, on when the three VAPID variables are set (`manage.py vapid_keys`
# prints a pair). A push that keeps failing falls back to SMS after PUSH_MAX_ATTEMPTS: fewer
# than SMS gets, because the SMS is still to come.
VAPID_PUBLIC_KEY = env.str("VAPID_PUBLIC_KEY", default="")
VAPID_PRIVATE_KEY = env.str("VAPID_PRIVATE_KEY", default="")
VAPID_SUBJECT = env.str("VAPID_SUBJECT", default="")
_vapid = {"VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY", "VAPID_SUBJECT"}
for _name in sorted(_vapid):
    if any(globals()[n] for n in _vapid) and not globals()[_name]:
        raise ImproperlyConfigured(f"{_name} must be set too: push alerts need all three VAPID_*.")
if VAPID_SUBJECT and not VAPID_SUBJECT.startswith(("mailto:", "https://")):
    raise ImproperlyConfigured("VAPID_SUBJECT must be a mailto: address or an https:// URL.")
PUSH_ENABLED = bool(VAPID_PRIVATE_KEY)
PUSH_MAX_ATTEMPTS = env.int("PUSH_MAX_ATTEMPTS", default=3)
PUSH_TTL_SECONDS = env.int("PUSH_TTL_SECONDS", default=3600)
PUSH_TIMEOUT_SECONDS = env.float("PUSH_TIMEOUT_SECONDS", default=10.0)
# Browsers' push services; a subscription pointing anywhere else is refused, so that the server
# never posts to an address a user chose. A host matches itself and its subdomains.
PUSH_SERVICE_HOSTS = env.list(
    "PUSH_SERVICE_HOSTS",
    default=[
        "fcm.googleapis.com",
        "android.googleapis.com",
        "push.services.mozilla.com",
        "push.apple.com",
        "notify.windows.com",
    ],
)
# Tests only: accept http://127.0.0.1 endpoints (a local fake push service).
PUSH_ALLOW_INSECURE_ENDPOINTS = env.bool("PUSH_ALLOW_INSECURE_ENDPOINTS", default=False)
if PUSH_ALLOW_INSECURE_ENDPOINTS and not DEBUG:
    raise ImproperlyConfigured("PUSH_ALLOW_INSECURE_ENDPOINTS is for tests: never with DEBUG off.")

# When /healthz calls the sweep's heartbeat stale.
SWEEP_STALE_AFTER_SECONDS = env.int("SWEEP_STALE_AFTER_SECONDS", default=60)
# How long /healthz waits for the database (at least 2 s to connect) and, at the same time, the
# broker, and for each statement of its other checks: it answers within about 5 s even when the
# database or Redis accepts connections and never replies.
HEALTHZ_TIMEOUT_SECONDS = env.float("HEALTHZ_TIMEOUT_SECONDS", default=2.0)

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="homevisits@localhost")

# Calendar feeds (secret links for Outlook) expire: a year after they are made unless their
# owner picks a date sooner, and never later than this many days.
CALENDAR_FEED_MAX_DAYS = env.int("CALENDAR_FEED_MAX_DAYS", default=730)
if CALENDAR_FEED_MAX_DAYS < 1:
    raise ImproperlyConfigured("CALENDAR_FEED_MAX_DAYS must be a positive number of days.")

# Outlook calendars through Microsoft Graph: on when the app registration's three values are set
# (application permission Calendars.ReadWrite, with admin consent; see the README). Without them
# nothing is written for Outlook and the calendar feeds (.ics) stay the way to Outlook.
GRAPH_TENANT_ID = env.str("GRAPH_TENANT_ID", default="")
GRAPH_CLIENT_ID = env.str("GRAPH_CLIENT_ID", default="")
GRAPH_CLIENT_SECRET = env.str("GRAPH_CLIENT_SECRET", default="")
_graph = {"GRAPH_TENANT_ID", "GRAPH_CLIENT_ID", "GRAPH_CLIENT_SECRET"}
for _name in sorted(_graph):
    if any(globals()[n] for n in _graph) and not globals()[_name]:
        raise ImproperlyConfigured(
            f"{_name} must be set too: Outlook calendar sync needs all three GRAPH_* values."
        )
OUTLOOK_SYNC_ENABLED = bool(GRAPH_CLIENT_SECRET)
GRAPH_BASE_URL = env.str("GRAPH_BASE_URL", default="https://graph.microsoft.com/v1.0").rstrip("/")
GRAPH_LOGIN_BASE_URL = env.str(
    "GRAPH_LOGIN_BASE_URL", default="https://login.microsoftonline.com"
).rstrip("/")
# A file of CA certificates to trust for Graph and its sign-in instead of the system's (a
# TLS-inspecting proxy; the tests' local fake). Empty: the system's.
GRAPH_CA_BUNDLE = env.str("GRAPH_CA_BUNDLE", default="")
GRAPH_TIMEOUT_SECONDS = env.float("GRAPH_TIMEOUT_SECONDS", default=10.0)
# The calendar outbox: a sender's lease, then retries doubling from the base (or after the
# Retry-After that Graph asks for), until the row is marked failed and shown.
OUTLOOK_SYNC_LEASE_SECONDS = env.int("OUTLOOK_SYNC_LEASE_SECONDS", default=60)
OUTLOOK_SYNC_MAX_ATTEMPTS = env.int("OUTLOOK_SYNC_MAX_ATTEMPTS", default=8)
OUTLOOK_SYNC_RETRY_BASE_SECONDS = env.int("OUTLOOK_SYNC_RETRY_BASE_SECONDS", default=10)
if OUTLOOK_SYNC_LEASE_SECONDS <= 4 * GRAPH_TIMEOUT_SECONDS:
    raise ImproperlyConfigured(
        "OUTLOOK_SYNC_LEASE_SECONDS must be longer than four GRAPH_TIMEOUT_SECONDS: one send "
        "may make that many calls to Microsoft."
    )

# HTTPS and cookie hardening: on whenever DEBUG is off.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): scripts and styles only from our own static files, so an
# injected <script>, on*="" handler or style="" attribute does nothing. Templates therefore carry
# no inline script, event handler or style attribute (tests/homevisits/test_security_headers.py
# scans them), and HTMX is told not to inject its indicator <style> nor to eval (base.html).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Powerful browser features nobody here needs are off; location only for our own pages. Only
# features that Chromium recognises: it logs an error for any other (the browser tests fail on it).
PERMISSIONS_POLICY = {
    "geolocation": "self",
    "camera": [],
    "microphone": [],
    "display-capture": [],
    "payment": [],
    "usb": [],
    "serial": [],
    "hid": [],
    "midi": [],
    "accelerometer": [],
    "gyroscope": [],
    "magnetometer": [],
    "idle-detection": [],
    "screen-wake-lock": [],
    "xr-spatial-tracking": [],
    "browsing-topics": [],
}

# A calendar feed's secret is in its URL: the loggers that write request paths (runserver's
# request lines, and Django's warnings about 4xx/5xx answers) redact it before any handler sees
# the record. gunicorn's own access log is redacted by its logger class (the web command's
# --logger-class).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "homevisits.log_redaction.SecretRedactingFilter"}},
    "formatters": {
        # Django's own format for runserver's lines, which this configuration replaces.
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact_secrets"]},
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact_secrets"],
        },
    },
    "loggers": {
        "django.request": {"filters": ["redact_secrets"]},
        "django.server": {
            "handlers": ["django.server"],
            "level": "INFO",
            "propagate": False,
            "filters": ["redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
