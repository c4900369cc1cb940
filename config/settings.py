"""All settings, read from the environment in this one module (django-environ).

DJANGO_ENV selects the profile: ``dev`` (default), ``test`` or ``production``.
Production refuses to start without SECRET_KEY, DATABASE_URL and ALLOWED_HOSTS.
"""

import base64
import hashlib
import os
import sys
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# Under pytest the default profile is "test", so running pytest directly behaves like `make test`.
DJANGO_ENV = env.str("DJANGO_ENV", default="test" if "pytest" in sys.modules else "dev")
if DJANGO_ENV not in {"dev", "test", "production"}:
    raise environ.ImproperlyConfigured(
        f"DJANGO_ENV must be dev, test or production, not {DJANGO_ENV!r}"
    )
PRODUCTION = DJANGO_ENV == "production"
TESTING = DJANGO_ENV == "test"

if PRODUCTION:
    # No defaults: a production process without its secrets must not start.
    SECRET_KEY = env.str("SECRET_KEY")
    DATABASES = {"default": env.db("DATABASE_URL")}
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
    DEBUG = False
else:
    SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-never-use-in-production")
    DATABASES = {
        "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/partnerflow")
    }
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
    DEBUG = env.bool("DEBUG", default=DJANGO_ENV == "dev")

# The web and worker processes connect as DATABASE_URL's role, which owns nothing; the tables
# belong to DATABASE_OWNER_URL's role, which `migrate` runs as (core/database.py,
# docs/architecture.md "Database roles"). Without it one role does both.
_owner_url = env.str("DATABASE_OWNER_URL", default="")
DATABASE_OWNER = environ.Env.db_url_config(_owner_url) if _owner_url else None
if TESTING and DATABASE_OWNER is None:
    # The tests always run split, so that a missing grant fails a test: DATABASE_URL's role
    # creates and migrates the test database, and the tests connect as a role of their own,
    # which the test session creates when it is missing (tests/conftest.py).
    DATABASE_OWNER = dict(DATABASES["default"])
    DATABASES["default"]["USER"] = DATABASES["default"]["PASSWORD"] = env.str(
        "TEST_DATABASE_APP_ROLE", default="partnerflow_test_app"
    )
if DATABASE_OWNER is not None and DATABASE_OWNER["NAME"] != DATABASES["default"]["NAME"]:
    raise environ.ImproperlyConfigured(
        "DATABASE_OWNER_URL and DATABASE_URL must name the same database"
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, plus the session settings of the row-level security (core/postgres).
    DATABASES["default"]["ENGINE"] = "core.postgres"
DATABASES["default"]["ATOMIC_REQUESTS"] = True
if TESTING:
    # One test database per test process, so that two test runs on one machine don't collide.
    DATABASES["default"]["TEST"] = {
        "NAME": env.str("TEST_DATABASE_NAME", default=f"test_partnerflow_{os.getpid()}")
    }
# Persistent connections: a new PostgreSQL connection per request costs far more than the request.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0 if TESTING else 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The conversion hot path's statements are prepared once per connection (core/sql.py); turn
# off behind a connection pooler that cannot keep prepared statements. Django turns psycopg's
# preparing off (prepare_threshold None); a threshold no statement reaches lets the hot path
# ask for it explicitly while nothing else is ever prepared.
DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)
if DATABASE_PREPARED_STATEMENTS:
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 2**31 - 1

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Seconds. A command takes well under a millisecond: a Redis that does not answer within these
# is treated as down (core/redis_store.py), so that a request falls back or answers 503 instead
# of holding its worker (docs/architecture.md, 'When Redis is down').
REDIS_CONNECT_TIMEOUT = 0.5
REDIS_TIMEOUT = 1.0
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
    "core",
    "tenancy",
    "webhooks",
    "partners",
    "payouts",
    "notices",
    "segmentation",
    "campaigns",
    "analytics",
    "ladder",
    "onboarding",
    "goals",
    "challenges",
    "imports",
    "demo",
]

MIDDLEWARE = [
    # Outermost: under /api/ every error is problem+json, whoever answered it.
    "core.middleware.APIProblemMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "tenancy.middleware.TenantScopeMiddleware",
    "tenancy.middleware.UserLanguageMiddleware",
    # Last before axes: a refused value renders a page of the program, in the caller's language.
    "core.middleware.PageInputMiddleware",
    # Last, as django-axes asks: a locked-out login answers 429 (tenancy.login_throttle).
    "axes.middleware.AxesMiddleware",
]

# Shorter stacks for the two server-facing hot paths (config/wsgi.py, docs/benchmarks.md): no
# session, CSRF, logged-in user, messages, htmx or dashboard scope. The API authenticates by key
# and sets its own scope, and answers in the language the caller asks for; the redirect answers
# a 302 (its 404 page picks the visitor's language itself). Security, common and clickjacking
# headers stay as on every page. No Content-Security-Policy: neither answers a document that
# runs anything (JSON, a redirect, a 404 page without script), and building the header costs
# about 60 µs an answer, a fifth of a redirect's time.
API_MIDDLEWARE = [
    "core.middleware.APIProblemMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
REDIRECT_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

if PRODUCTION:
    # runserver and the test live server serve static files themselves.
    security = MIDDLEWARE.index("django.middleware.security.SecurityMiddleware")
    MIDDLEWARE.insert(security + 1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "tenancy.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

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
                "tenancy.context_processors.tenant",
            ],
        },
    }
]

# Logins resist guessing (docs/architecture.md, "Logins"): django-axes counts failed logins in
# PostgreSQL (its database handler, so it holds while Redis is down) and its backend refuses
# every login, the right password too, while a count is over its limit.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failures within the cool-down, each group with its own limit: one address from one IP, one IP
# across addresses, one address across IPs.
LOGIN_FAILURE_LIMITS = [
    (["username", "ip_address"], env.int("LOGIN_FAILURES_PER_ACCOUNT_AND_IP", default=5)),
    (["ip_address"], env.int("LOGIN_FAILURES_PER_IP", default=20)),
    (["username"], env.int("LOGIN_FAILURES_PER_ACCOUNT", default=50)),
]
AXES_HANDLER = "tenancy.login_throttle.LoginThrottleHandler"
AXES_LOCKOUT_PARAMETERS = [parameters for parameters, _limit in LOGIN_FAILURE_LIMITS]
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMITS[0][1]
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "tenancy.login_throttle.login_username"
AXES_LOCKOUT_CALLABLE = "tenancy.login_throttle.lockout_response"
AXES_RESET_ON_SUCCESS = True
# A try during the cool-down is refused without being counted, so the cool-down ends when the
# page says it does.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# No log of successful logins: it would keep every visitor's IP address for ever.
AXES_DISABLE_ACCESS_LOG = True
AXES_HTTP_RESPONSE_CODE = 429
# Behind reverse proxies that each append the address they saw to X-Forwarded-For, how many
# there are in front of Django; 0 (default): the connection's own address is the client's.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "tenancy.login_throttle.client_ip"
# Two-factor authentication (django-otp): the name an authenticator app shows.
OTP_TOTP_ISSUER = "Partnerflow"
# Password-reset and invitation emails to one address (docs/architecture.md, "Logins").
EMAIL_PER_ADDRESS_LIMIT = env.int("EMAIL_PER_ADDRESS_LIMIT", default=3)
EMAIL_PER_ADDRESS_WINDOW = timedelta(hours=1)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    # Hashing dominates test time otherwise; production keeps PBKDF2.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ru", _("Russian"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "pf_language"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "config.static_finders.PlotlyFinder",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {
            "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
            "socket_timeout": REDIS_TIMEOUT,
        },
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="pf-test" if TESTING else "pf"),
    }
}

EMAIL_CONFIG = env.email_url(
    "EMAIL_URL", default="consolemail://" if not PRODUCTION else "smtp://localhost:25"
)
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str(
    "DEFAULT_FROM_EMAIL", default="Partnerflow <no-reply@partnerflow.local>"
)
EMAIL_TIMEOUT = 10
# Absolute links in emails are built from this.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
INVITATION_TTL_DAYS = env.int("INVITATION_TTL_DAYS", default=7)
# Card and account numbers are stored encrypted (payouts/crypto.py, docs/payouts.md): the first
# key encrypts, all decrypt. Production requires them: a key derived from SECRET_KEY would make
# every stored number unreadable the day SECRET_KEY is rotated. Elsewhere, unset, one key is
# derived from SECRET_KEY.
if PRODUCTION:
    PAYOUT_DETAILS_KEYS = [key for key in env.list("PAYOUT_DETAILS_KEYS") if key]
    if not PAYOUT_DETAILS_KEYS:
        raise environ.ImproperlyConfigured("Set the PAYOUT_DETAILS_KEYS environment variable")
else:
    PAYOUT_DETAILS_KEYS = env.list("PAYOUT_DETAILS_KEYS", default=[])
if not PAYOUT_DETAILS_KEYS:
    _digest = hashlib.sha256(b"partnerflow payout details\0" + SECRET_KEY.encode()).digest()
    PAYOUT_DETAILS_KEYS = [base64.urlsafe_b64encode(_digest).decode()]

# Outbound webhooks (docs/webhooks.md). Production refuses endpoints on private, loopback and
# link-local addresses (SSRF); dev and test allow them so a local receiver works.
WEBHOOKS_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOKS_ALLOW_PRIVATE_TARGETS", default=not PRODUCTION)
# An endpoint is disabled after this many deliveries in a row gave up after every retry.
WEBHOOKS_DISABLE_AFTER_FAILURES = env.int("WEBHOOKS_DISABLE_AFTER_FAILURES", default=10)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tenancy.api_auth.APIKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.api_policy.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": ["core.api_policy.APIKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env.str("API_RATE", default="6000/min")},
    "EXCEPTION_HANDLER": "core.api_policy.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "core.api_schema.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.api_policy.JSONParser"],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Partnerflow API",
    "DESCRIPTION": (
        "Server-to-server API of a Partnerflow program. Authenticate with "
        "`Authorization: Bearer pf_live_…`; every key belongs to one program.\n\n"
        "Errors are RFC 9457 `application/problem+json` documents (`Problem`): `type` "
        "(`urn:partnerflow:problem:<code>`), `title`, `status`, `detail`, and for invalid input "
        "`errors`, one `{field, code, message}` per field. Each operation lists the statuses it "
        "can answer: 400 a bad parameter, header or body field; 401 no key or an unknown one; "
        "404 no such object in this program (another program's ids too); 409 a reused "
        "`Idempotency-Key` or a change the object's state refuses; 413 a body too large; 415 a "
        "body that is not JSON; 422 well-formed but not actionable; 429 too many requests "
        "(`Retry-After`); 503 briefly unavailable, retry.\n\n"
        "Every write takes an optional `Idempotency-Key` header. Lists are cursor-paged: "
        'follow `next`. A choice left unset reads `""`; a value that may be missing reads '
        "`null`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One schema name per choice set used by several serializers.
    "ENUM_NAME_OVERRIDES": {
        "ActivitySegmentEnum": "partners.models.ActivitySegment",
        "FirstStepItemEnum": "onboarding.models.Item",
        "JoinFieldModeEnum": "tenancy.models.JoinFieldMode",
        "CompanySizeEnum": "partners.models.CompanySize",
        "ChannelTypeEnum": "partners.models.ChannelType",
        "PartnerTypeEnum": "partners.models.PartnerType",
        "GeographyTierEnum": "partners.geography.GeographyTier",
        "PartnerStatusEnum": "partners.models.PartnerStatus",
        "ConversionStatusEnum": "partners.models.ConversionStatus",
        "CommissionStatusEnum": "payouts.models.CommissionStatus",
        "DeliveryStatusEnum": "webhooks.models.DeliveryStatus",
        "PayoutStatusEnum": "payouts.models.PayoutLineStatus",
        "PayoutBatchStatusEnum": "payouts.models.PayoutBatchStatus",
        "CampaignStatusEnum": "campaigns.models.CampaignStatus",
        "MessageStatusEnum": "campaigns.models.MessageStatus",
        "ChallengePrizeKindEnum": "challenges.models.PrizeKind",
        "GoalMetricEnum": "goals.models.Metric",
        "ChallengeMetricEnum": "challenges.models.Metric",
        # The conversions' kind keeps the name it had before another "kind" came.
        "KindEnum": "partners.models.ConversionKind",
    },
}

CELERY_BROKER_URL = REDIS_URL
# Publishing a task must not hold a request while Redis is away (the worker's blocking reads
# wait 1 s for a task, hence the longer read timeout); a refused publish is a 503.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
    "socket_timeout": 5,
}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_TIME_LIMIT = 15 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 14 * 60
# Tasks are idempotent, so a task is acknowledged only once it has run and is redelivered
# when its worker dies mid-way.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_TASK_DEFAULT_QUEUE = env.str(
    "CELERY_QUEUE", default="partnerflow-test" if TESTING else "partnerflow"
)
# Tests run tasks inline unless they start a real worker (tests/conftest.py: celery_worker).
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=TESTING)
CELERY_TASK_EAGER_PROPAGATES = TESTING

SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every page (django-csp; docs/architecture.md, "Front end"): scripts
# only from our own static files (an inline script needs the request's nonce), no plugins, no
# framing, forms and <base> only to ourselves.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "frame-ancestors": [NONE],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_REFERRER_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # django-axes: its start banner and per-login notes are INFO; failures and lockouts WARNING.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
