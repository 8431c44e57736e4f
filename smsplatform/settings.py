"""Settings for the SMS platform, read from the environment (see .env.example).

One settings module for every environment; tests add a small overlay (settings_test.py).
"""

from pathlib import Path
from urllib.parse import unquote, urlsplit

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key" if DEBUG else environ.Env.NOTSET)
# Earlier keys, still accepted (signed sessions, links) and still able to decrypt the secrets the
# database keeps until their rows are saved again.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
# Secrets the database keeps (Twilio subaccount auth tokens) are encrypted with keys derived from
# SECRET_KEY (and its fallbacks) and these salts, newest first (django-fernet-encrypted-fields).
SALT_KEY = env.list("SALT_KEY", default=["smsplatform-fields"])

# --- Domains --------------------------------------------------------------------------------
# The public site (landing, sign-up, admin, webhooks) lives on SITE_URL; each organization on
# <slug>.<host of SITE_URL>. In development that is http://localhost:8000 and *.localhost.
SITE_URL = env.str("SITE_URL", default="http://localhost:8000").rstrip("/")
_site = urlsplit(SITE_URL)
BASE_DOMAIN = _site.hostname
SITE_SCHEME = _site.scheme
SITE_PORT_SUFFIX = f":{_site.port}" if _site.port else ""
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[BASE_DOMAIN, f".{BASE_DOMAIN}"])
CSRF_TRUSTED_ORIGINS = [
    f"{SITE_SCHEME}://{BASE_DOMAIN}{SITE_PORT_SUFFIX}",
    f"{SITE_SCHEME}://*.{BASE_DOMAIN}{SITE_PORT_SUFFIX}",
]
# Behind a TLS-terminating proxy, trust its X-Forwarded-* headers (webhook signatures need the
# public URL rebuilt exactly).
if env.bool("BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
    USE_X_FORWARDED_PORT = True

# --- Apps: public schema vs. each organization's schema (DESIGN §1, §2) ---------------------
SHARED_APPS = [
    "django_tenants",
    "organizations",
    "billing",
    "a2p",
    "smsplatform",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_celery_beat",
    "rest_framework",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "messaging",
]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "organizations.Organization"
TENANT_DOMAIN_MODEL = "organizations.Domain"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "smsplatform.urls_public"
ROOT_URLCONF = "smsplatform.urls_tenant"
# New organizations are cloned from this template schema instead of replaying every migration.
TENANT_BASE_SCHEMA = "tenant_template"
TENANT_CREATION_FAKES_MIGRATIONS = True
# Spare schemas kept ready (already cloned and migrated) so that a sign-up only renames one:
# cloning takes longer the more schemas the database holds.
TENANT_SPARE_SCHEMAS = env.int("TENANT_SPARE_SCHEMAS", default=3)
# Only SET search_path when the schema actually changes.
TENANT_LIMIT_SET_CALLS = True

DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files need no tenant: serve them before the host -> schema lookup.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "organizations.middleware.TenantHostMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "organizations.middleware.TenantAccessMiddleware",
]

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
                "organizations.context_processors.workspace",
                "billing.context_processors.billing_banner",
            ],
        },
    },
]

WSGI_APPLICATION = "smsplatform.wsgi.application"

# --- Data stores ----------------------------------------------------------------------------
DATABASE_URL = env.str("DATABASE_URL", default="postgres://postgres@localhost/smsplatform")
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
# A unix-socket directory may be given percent-encoded as the host (postgres://u@%2Frun%2Fpg/db);
# django-environ passes it on still encoded (and lower-cased), so decode it from the raw URL.
_raw_host = unquote(urlsplit(DATABASE_URL).netloc.rsplit("@", 1)[-1])
if _raw_host.startswith("/"):
    DATABASES["default"]["HOST"] = _raw_host
DATABASES["default"]["ENGINE"] = "smsplatform.database"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Shows in pg_stat_activity which process (web, worker, beat...) holds a connection.
DATABASES["default"].setdefault("OPTIONS", {})["application_name"] = env.str(
    "DB_APPLICATION_NAME", default="smsplatform"
)
# Statements run through connection.prepared_cursor() are prepared after this many runs on a
# connection (Django's own cursors bind on the client and are never prepared); 0 never prepares,
# for a connection pooler that cannot keep prepared statements.
DATABASES["default"]["OPTIONS"]["prepare_threshold"] = (
    env.int("DB_PREPARE_THRESHOLD", default=5) or None
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        # Prefix every key with the current schema so organizations never share cache entries.
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="sms"),
    }
}

# --- Celery (tenant-schemas-celery carries the schema in each task's headers) ---------------
# An empty value (as copied from .env.example) means "the default", not "no broker".
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or REDIS_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
# Campaign sending runs long (minutes per task); its own queue keeps quick tasks (keyword
# replies, webhooks' follow-ups) from waiting behind it, and lets it scale on its own workers.
CELERY_SENDING_QUEUE = env.str("CELERY_SENDING_QUEUE", default="sending")
CELERY_TASK_ROUTES = {
    "messaging.tasks.start_campaign_run": {"queue": CELERY_SENDING_QUEUE},
    "messaging.tasks.dispatch_run": {"queue": CELERY_SENDING_QUEUE},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_TENANT_CACHE_SECONDS = 30
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
# Platform-wide periodic tasks; django-celery-beat copies them into its tables (visible in the
# admin). Per-organization schedules are rows created by the features that own them.
CELERY_BEAT_SCHEDULE = {
    "replenish-spare-schemas": {
        "task": "organizations.tasks.replenish_spare_schemas",
        "schedule": 300.0,
    },
    "roll-up-delivery-health": {
        "task": "messaging.tasks.roll_up_delivery_health",
        "schedule": 600.0,
    },
    # Billing (billing/tasks.py): overage to Stripe's meter hourly, just after the hour it
    # covers; reservations squared with the ledger; events whose handling failed, again.
    "billing-report-overage": {
        "task": "billing.tasks.report_overage",
        "schedule": crontab(minute=5),
    },
    "billing-true-up-reservations": {
        "task": "billing.tasks.true_up_reservations",
        "schedule": 900.0,
    },
    "billing-process-pending-stripe-events": {
        "task": "billing.tasks.process_pending_stripe_events",
        "schedule": 600.0,
    },
    "poll-a2p-registrations": {
        "task": "a2p.tasks.poll_registrations",
        "schedule": 60.0,
    },
    # Single texts (STOP confirmations, HELP answers, replies) whose task was lost or gave up.
    "sweep-unsent-texts": {
        "task": "messaging.tasks.sweep_unsent_texts",
        "schedule": 120.0,
    },
    "delete-stale-import-uploads": {
        "task": "messaging.tasks.delete_stale_import_uploads",
        "schedule": 3600.0,
    },
}

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "organizations.User"
LOGIN_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_SECURE = SITE_SCHEME == "https"
CSRF_COOKIE_SECURE = SITE_SCHEME == "https"
# Seconds a sign-in handoff token (public site -> workspace domain) stays valid.
SIGNIN_HANDOFF_MAX_AGE = 60

# --- I18n, static ---------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "smsplatform" / "static"]
STORAGES = {
    # Each organization's files in MEDIA_ROOT/<schema>/, never mixed with another's.
    "default": {"BACKEND": "django_tenants.files.storage.TenantFileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=DEBUG)
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / ".data" / "media")
MEDIA_URL = "/media/"
MULTITENANT_RELATIVE_MEDIA_ROOT = "%s"
# Contact imports: the largest file a person may upload. A larger upload is refused as it arrives
# (messaging.views.imports), before it is stored; smaller ones spool to a temporary file once
# past FILE_UPLOAD_MAX_MEMORY_SIZE, so a big upload never sits in a web worker's memory.
IMPORT_MAX_UPLOAD_BYTES = env.int("IMPORT_MAX_UPLOAD_BYTES", default=100 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Rows an import cleans and merges per step (the progress bar moves once per step).
IMPORT_CHUNK_ROWS = env.int("IMPORT_CHUNK_ROWS", default=25_000)

# --- Email ----------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="SMS Platform <hello@localhost>")

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["organizations.permissions.IsOrganizationMember"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.CursorPagination",
    "PAGE_SIZE": 50,
}

# --- Logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Twilio (every call goes through smsplatform/providers/twilio.py) -----------------------
# The ISV's main account. Each organization sends from its own subaccount (a2p.TwilioAccount),
# with this account as the fallback. Unset in development: `make run` then starts the local
# Twilio sandbox and points everything below at it.
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
# Base addresses of Twilio's three domains, so the same code talks to twilio.com or the sandbox.
TWILIO_API_BASE = env.str("TWILIO_API_BASE", default="https://api.twilio.com")
TWILIO_MESSAGING_BASE = env.str("TWILIO_MESSAGING_BASE", default="https://messaging.twilio.com")
TWILIO_TRUSTHUB_BASE = env.str("TWILIO_TRUSTHUB_BASE", default="https://trusthub.twilio.com")
TWILIO_EVENTS_BASE = env.str("TWILIO_EVENTS_BASE", default="https://events.twilio.com")
# The ISV's own approved Primary Business Profile (BU...), linked to every customer's profile.
TWILIO_ISV_PRIMARY_PROFILE_SID = env.str("TWILIO_ISV_PRIMARY_PROFILE_SID", default="")
# TrustHub writes to this address about reviews: the ISV's monitored mailbox, not the customer's.
TWILIO_NOTIFICATION_EMAIL = env.str("TWILIO_NOTIFICATION_EMAIL", default="")
# Where Twilio reaches our webhooks; differs from SITE_URL only behind a tunnel or another host.
TWILIO_WEBHOOK_BASE_URL = (env.str("TWILIO_WEBHOOK_BASE_URL", default="") or SITE_URL).rstrip("/")
# Seconds. A read timeout after a message was sent leaves its outcome unknown, so keep it generous.
TWILIO_CONNECT_TIMEOUT = env.float("TWILIO_CONNECT_TIMEOUT", default=5.0)
TWILIO_READ_TIMEOUT = env.float("TWILIO_READ_TIMEOUT", default=15.0)
# Concurrent requests of one bulk send. Twilio's per-account limit is not published (~100).
TWILIO_SEND_CONCURRENCY = env.int("TWILIO_SEND_CONCURRENCY", default=50)
# Retries of requests Twilio did not process (429, refused connections): attempts and backoff.
TWILIO_MAX_ATTEMPTS = env.int("TWILIO_MAX_ATTEMPTS", default=5)
TWILIO_BACKOFF_BASE = env.float("TWILIO_BACKOFF_BASE", default=0.5)
TWILIO_BACKOFF_CAP = env.float("TWILIO_BACKOFF_CAP", default=20.0)
# The SDK logs every request, phone numbers in its query included, at INFO.
LOGGING["loggers"]["twilio"] = {"level": "WARNING"}
# A2P registration (a2p/engine.py, docs/a2p.md). Twilio asks for at most one brand or campaign
# registration request per second: every registration request takes a slot, platform-wide.
A2P_REGISTRATION_CALLS_PER_SECOND = env.float("A2P_REGISTRATION_CALLS_PER_SECOND", default=1.0)
# A failed registration call Twilio may not have processed is tried again, with backoff.
A2P_MAX_ATTEMPTS = env.int("A2P_MAX_ATTEMPTS", default=8)
A2P_RETRY_BASE_SECONDS = env.float("A2P_RETRY_BASE_SECONDS", default=30.0)
A2P_RETRY_CAP_SECONDS = env.float("A2P_RETRY_CAP_SECONDS", default=3600.0)
# How often a registration waiting for a review is polled (webhooks usually come first).
A2P_POLL_INTERVAL_SECONDS = env.int("A2P_POLL_INTERVAL_SECONDS", default=900)
# One task works on a registration this long, then hands over to a fresh task.
A2P_ADVANCE_TIME_BUDGET_SECONDS = env.float("A2P_ADVANCE_TIME_BUDGET_SECONDS", default=120.0)


# --- Stripe (every call goes through smsplatform/providers/stripe.py) -----------------------
# With no STRIPE_SECRET_KEY, `make run` starts the local Stripe sandbox and points these at it.
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="https://api.stripe.com").rstrip("/")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
# Seconds a webhook signature stays acceptable (replay protection); Stripe's libraries use 300.
STRIPE_WEBHOOK_TOLERANCE = env.int("STRIPE_WEBHOOK_TOLERANCE", default=300)
STRIPE_CONNECT_TIMEOUT = env.float("STRIPE_CONNECT_TIMEOUT", default=5.0)
STRIPE_READ_TIMEOUT = env.float("STRIPE_READ_TIMEOUT", default=30.0)
# The SDK's own retries of one call (same idempotency key each time), before the gateway raises.
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)
# The SDK logs every request at INFO; keep that for debugging only.
LOGGING["loggers"]["stripe"] = {"level": env.str("STRIPE_LOG_LEVEL", default="WARNING")}

# --- Billing (billing/; docs/billing.md) ----------------------------------------------------
# Days sending goes on after a failed payment before it is paused.
BILLING_GRACE_PERIOD_DAYS = env.int("BILLING_GRACE_PERIOD_DAYS", default=7)
# The Stripe product of the plan catalogue (a chosen id) and the event name of its meter.
BILLING_STRIPE_PRODUCT_ID = env.str("BILLING_STRIPE_PRODUCT_ID", default="textwise")
BILLING_METER_EVENT_NAME = env.str("BILLING_METER_EVENT_NAME", default="textwise_messages")
# Minutes without a reserve or release after which a period's reservations are squared with
# the usage ledger (longer than any batch takes between reserving and recording).
BILLING_TRUE_UP_IDLE_MINUTES = env.int("BILLING_TRUE_UP_IDLE_MINUTES", default=15)


# --- Product --------------------------------------------------------------------------------
# Slugs an organization may not take: they are, or may become, hosts of the platform itself.
RESERVED_SLUGS = frozenset(
    [
        "www",
        "admin",
        "api",
        "app",
        "apps",
        "static",
        "media",
        "assets",
        "cdn",
        "mail",
        "email",
        "smtp",
        "imap",
        "pop",
        "ftp",
        "ssh",
        "vpn",
        "public",
        "private",
        "template",
        "tenant-template",
        "tenants",
        "dashboard",
        "login",
        "logout",
        "signup",
        "sign-up",
        "register",
        "account",
        "accounts",
        "auth",
        "oauth",
        "sso",
        "billing",
        "pay",
        "payments",
        "checkout",
        "stripe",
        "twilio",
        "webhook",
        "webhooks",
        "status",
        "health",
        "healthz",
        "help",
        "support",
        "docs",
        "blog",
        "news",
        "about",
        "www1",
        "www2",
        "dev",
        "staging",
        "test",
        "demo-template",
        "root",
        "system",
        "platform",
        "internal",
    ]
)
DEMO_ORGANIZATION_SLUG = "demo"
# Sending pipeline (messaging/dispatch.py).
# The platform's own number (main account) for verification codes and test messages sent
# before an organization has its own number. +15005550006 is Twilio's test "From" number.
TWILIO_PLATFORM_NUMBER = env.str("TWILIO_PLATFORM_NUMBER", default="+15005550006")
DEFAULT_MESSAGES_PER_SECOND = env.float("DEFAULT_MESSAGES_PER_SECOND", default=10.0)
DISPATCH_BATCH_SIZE = env.int("DISPATCH_BATCH_SIZE", default=500)
DISPATCH_WATCHDOG_SECONDS = env.int("DISPATCH_WATCHDOG_SECONDS", default=30)
DISPATCH_STALE_CLAIM_SECONDS = env.int("DISPATCH_STALE_CLAIM_SECONDS", default=60)
# How long a run's dispatcher lock outlives a dispatcher that stopped refreshing it.
DISPATCH_LOCK_SECONDS = env.int("DISPATCH_LOCK_SECONDS", default=90)
# An MMS costs the carrier roughly three texts; customers see it as three messages.
MMS_MESSAGE_COST = 3
