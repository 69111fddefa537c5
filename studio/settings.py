"""Settings for the studio, driven by environment variables.

Every variable is listed with its default in `.env.example`. With none set, the studio runs
embedded: SQLite, Celery's filesystem transport and local folders, all under STUDIO_DATA_DIR.
Secrets can also be read from files: `SECRET_KEY_FILE`, `AWS_SECRET_ACCESS_KEY_FILE`, ...
"""

import os
import secrets
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.FileAwareEnv()
if (BASE_DIR / ".env").is_file():  # a copy of .env.example; the real environment wins
    environ.FileAwareEnv.read_env(BASE_DIR / ".env")


def parse_size(value: str) -> int:
    """'2GiB', '500MB', '1048576' -> bytes."""
    units = {
        "": 1,
        "B": 1,
        "KB": 1000,
        "MB": 1000**2,
        "GB": 1000**3,
        "TB": 1000**4,
        "KIB": 1024,
        "MIB": 1024**2,
        "GIB": 1024**3,
        "TIB": 1024**4,
    }
    text = value.strip().upper().replace(" ", "")
    number = text.rstrip("KMGTIB")
    unit = text[len(number) :]
    if not number or unit not in units:
        raise environ.ImproperlyConfigured(f"Not a size: {value!r} (try 500MB or 2GiB)")
    return int(float(number) * units[unit])


STUDIO_DATA_DIR = Path(env.str("STUDIO_DATA_DIR", default=str(BASE_DIR / ".studio-data"))).resolve()
STUDIO_DATA_DIR.mkdir(parents=True, exist_ok=True)


def _embedded_secret(name: str) -> str:
    """A secret generated once and kept in the data directory (embedded mode only)."""
    path = STUDIO_DATA_DIR / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="") or _embedded_secret("secret_key")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Behind TLS (a reverse proxy or load balancer): secure cookies, HSTS, redirect to https.
STUDIO_HTTPS = env.bool("STUDIO_HTTPS", default=False)
if STUDIO_HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Scripts and style sheets only from the studio's own files (no inline <script> or <style>, no
# eval); style attributes are allowed, the templates set widths and indents with them.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    ]
)

INSTALLED_APPS = [
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
    "template_partials",
    "core",
    "accounts",
    "workspaces",
    "assets",
    "compute",
    "jobs",
    "tracking",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.UploadSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "studio.urls"
ASGI_APPLICATION = "studio.asgi.application"
WSGI_APPLICATION = "studio.wsgi.application"

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
                "workspaces.context_processors.workspace_shell",
            ],
        },
    },
]

DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{STUDIO_DATA_DIR / 'studio.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, worker, scheduler) share one file.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Caches. "default" is seen by every process and host (sign-in throttling counts there): a table in
# the database unless CACHE_URL names another (redis://redis.internal:6379/1); `runstudio` creates
# the table. "local" stays in one process's memory (the MLflow endpoints' recent Basic sign-ins).
CACHES = {
    "default": env.cache_url("CACHE_URL", default="dbcache://studio_cache"),
    "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "studio-local"},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Sign-in throttling (the sign-in page and MLflow's Basic auth, accounts/throttle.py): this many wrong
# passwords for one user from one address (or for any users from one address), each within
# STUDIO_SIGNIN_WINDOW seconds of the last, lock them out for STUDIO_SIGNIN_LOCKOUT seconds.
STUDIO_SIGNIN_MAX_FAILURES = env.int("STUDIO_SIGNIN_MAX_FAILURES", default=10)
STUDIO_SIGNIN_MAX_FAILURES_PER_ADDRESS = env.int("STUDIO_SIGNIN_MAX_FAILURES_PER_ADDRESS", default=50)
STUDIO_SIGNIN_WINDOW = env.int("STUDIO_SIGNIN_WINDOW", default=300)
STUDIO_SIGNIN_LOCKOUT = env.int("STUDIO_SIGNIN_LOCKOUT", default=300)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = STUDIO_DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # collectstatic fills it for production; WhiteNoise also serves from the finders
WHITENOISE_USE_FINDERS = True

# Storage. "workspaces" is the backend that holds every workspace's storage account: a local
# folder by default, one S3 bucket or one Azure Blob container (each account under its own prefix)
# when configured. Registered datastores build their own backend from their kind and credentials.
STUDIO_STORAGE_KIND = env.str("STUDIO_STORAGE_KIND", default="local")
if STUDIO_STORAGE_KIND == "local":
    _workspace_storage = {
        "BACKEND": "workspaces.storage.AtomicFileSystemStorage",
        "OPTIONS": {"location": str(STUDIO_DATA_DIR / "storage")},
    }
elif STUDIO_STORAGE_KIND == "s3":
    _workspace_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("STUDIO_S3_BUCKET"),
            "endpoint_url": env.str("STUDIO_S3_ENDPOINT_URL", default=None),
            "region_name": env.str("STUDIO_S3_REGION", default=None),
            "access_key": env.str("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default=None),
            "file_overwrite": True,
            "default_acl": None,
        },
    }
elif STUDIO_STORAGE_KIND == "azure":
    _workspace_storage = {
        "BACKEND": "storages.backends.azure_storage.AzureStorage",
        "OPTIONS": {
            "azure_container": env.str("STUDIO_AZURE_CONTAINER", default="studio"),
            "connection_string": env.str("STUDIO_AZURE_CONNECTION_STRING", default=None),
            "account_name": env.str("STUDIO_AZURE_ACCOUNT_NAME", default=None),
            "account_key": env.str("STUDIO_AZURE_ACCOUNT_KEY", default=None),
            "overwrite_files": True,
        },
    }
else:
    raise environ.ImproperlyConfigured(f"STUDIO_STORAGE_KIND must be local, s3 or azure, not {STUDIO_STORAGE_KIND!r}")

STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(STUDIO_DATA_DIR / "media")},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    "workspaces": _workspace_storage,
}

# Folders a `local` datastore may point into (besides the data directory's `shared` folder).
STUDIO_LOCAL_DATASTORE_ROOTS = [
    Path(p).resolve() for p in env.list("STUDIO_LOCAL_DATASTORE_ROOTS", default=[str(STUDIO_DATA_DIR / "shared")])
]
# Hosts (or host:port) a registered datastore's endpoint may name although they are not https to a
# public address, e.g. an in-house MinIO. Every other endpoint must be https to a host that resolves
# only to public addresses.
STUDIO_DATASTORE_ENDPOINT_ALLOWLIST = [
    entry.strip().lower() for entry in env.list("STUDIO_DATASTORE_ENDPOINT_ALLOWLIST", default=[]) if entry.strip()
]
# Key for datastore credentials at rest (Fernet); derived from SECRET_KEY when unset.
STUDIO_ENCRYPTION_KEY = env.str("STUDIO_ENCRYPTION_KEY", default="")

# Request bodies larger than these are refused with 413 before they are read (studio/body_limit.py):
# a signed-in user's upload (data, datastore files, a job's code, model and component files, MLflow
# artifacts) may be as large as the upload limit; every other body, and any anonymous one, as
# large as the request limit (forms, REST and MLflow JSON).
STUDIO_MAX_UPLOAD_SIZE = parse_size(env.str("STUDIO_MAX_UPLOAD_SIZE", default="2GiB"))
STUDIO_MAX_REQUEST_SIZE = parse_size(env.str("STUDIO_MAX_REQUEST_SIZE", default="4MiB"))
DATA_UPLOAD_MAX_NUMBER_FILES = env.int("DATA_UPLOAD_MAX_NUMBER_FILES", default=1000)
DATA_UPLOAD_MAX_NUMBER_FIELDS = env.int("DATA_UPLOAD_MAX_NUMBER_FIELDS", default=2000)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = str(STUDIO_DATA_DIR / "tmp")
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)

STUDIO_DEFAULT_WORKSPACE = env.str("STUDIO_DEFAULT_WORKSPACE", default="my-workspace")

# Celery: the broker only nudges workers; the database holds every state.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = STUDIO_DATA_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        "polling_interval": 0.05,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(STUDIO_DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "core.tasks.record_worker_heartbeat", "schedule": 15.0},
    "dispatch-jobs": {"task": "jobs.tasks.dispatch_jobs", "schedule": 2.0},
    "reap-lost-jobs": {"task": "jobs.tasks.reap_lost_jobs", "schedule": 5.0},
    "discard-stale-data-uploads": {"task": "assets.data.discard_stale_uploads", "schedule": 3600.0},
}
STUDIO_WORKER_STALE_AFTER = env.int("STUDIO_WORKER_STALE_AFTER", default=60)

# Jobs: a job whose node has not heartbeated for this long is ended by the reaper.
STUDIO_JOB_HEARTBEAT_TIMEOUT = env.int("STUDIO_JOB_HEARTBEAT_TIMEOUT", default=30)
# A job's stored log stops growing past this size (the job keeps running).
STUDIO_JOB_LOG_MAX_BYTES = parse_size(env.str("STUDIO_JOB_LOG_MAX_BYTES", default="64MiB"))
# Web server processes (uvicorn workers) `runstudio` starts: one per core, at most 4 by default.
STUDIO_WEB_WORKERS = env.int("STUDIO_WEB_WORKERS", default=min(os.cpu_count() or 1, 4))
# The address jobs use to reach the studio (MLFLOW_TRACKING_URI).
STUDIO_PUBLIC_URL = env.str("STUDIO_PUBLIC_URL", default=f"http://127.0.0.1:{env.int('PORT', default=8000)}")
# Where the studio's own processes (a sandbox's relay to the API) reach its web server, when the
# public address is not reachable from this host; empty: STUDIO_PUBLIC_URL.
STUDIO_INTERNAL_URL = env.str("STUDIO_INTERNAL_URL", default="")

# User code (jobs, environment builds) runs in a sandbox: "auto" uses bubblewrap where it works and
# runs unsandboxed (single-user) where it doesn't; "bwrap" insists; "none" turns it off.
STUDIO_SANDBOX = env.str("STUDIO_SANDBOX", default="auto")
if STUDIO_SANDBOX not in ("auto", "bwrap", "none"):
    raise environ.ImproperlyConfigured(f"STUDIO_SANDBOX must be auto, bwrap or none, not {STUDIO_SANDBOX!r}")
# When the studio runs as root, a workspace's code runs as uid STUDIO_SANDBOX_UID_BASE + its id.
STUDIO_SANDBOX_UID_BASE = env.int("STUDIO_SANDBOX_UID_BASE", default=200_000)
# Jobs may reach public internet addresses (through the sandbox's proxy), as Azure ML's default.
STUDIO_SANDBOX_INTERNET = env.bool("STUDIO_SANDBOX_INTERNET", default=True)
# Hosts on the studio's own network user code may still reach (a package mirror): host or host:port.
STUDIO_SANDBOX_ALLOWED_HOSTS = env.list("STUDIO_SANDBOX_ALLOWED_HOSTS", default=[])
# The package cache of environment builds that install wheels only (no package code runs), shared by
# every workspace; empty: STUDIO_DATA_DIR/registry/.scopes/shared. Builds from source use a cache
# of their workspace's own.
STUDIO_SHARED_PACKAGE_CACHE = env.str("STUDIO_SHARED_PACKAGE_CACHE", default="")
# Without a sandbox the studio is single-user: a workspace gets no second member unless this is set.
STUDIO_ALLOW_UNSANDBOXED = env.bool("STUDIO_ALLOW_UNSANDBOXED", default=False)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "core.json_bodies.JSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api_errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Studio REST API",
    "DESCRIPTION": (
        "The studio's REST API, in the shape of Azure Machine Learning's: workspaces, datastores and "
        "members; data, environments, models and components (versioned assets, archive and restore); "
        "compute clusters; command jobs with their status, live logs (server-sent events) and outputs; "
        "API tokens. Experiment tracking and the model registry speak MLflow's own REST API under "
        "`/api/2.0/mlflow/` (point the `mlflow` client at the studio). Authenticate with "
        "`Authorization: Bearer <token>` (a personal token from the API tokens page, or a job's own token)."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "DataTypeEnum": "assets.models.DataType",
        "ModelTypeEnum": "assets.models.ModelType",
        "BuildStatusEnum": "assets.models.BuildStatus",
        "JobStatusEnum": "jobs.models.JobStatus",
        "NodeStateEnum": "compute.models.NodeState",
        "ComputeTypeEnum": [("amlcompute", "amlcompute")],
        "DatastoreKindEnum": "workspaces.models.DatastoreKind",
        "RoleEnum": "workspaces.roles.Role",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "without_traceback": {"()": "core.log_filters.WithoutTraceback"},
        "without_routine_tasks": {"()": "core.log_filters.WithoutRoutineTasks"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # A request with a Host not in ALLOWED_HOSTS (400): one line, not a traceback.
        "django.security.DisallowedHost": {"filters": ["without_traceback"]},
        # The worker's "received"/"succeeded" lines of the scheduler's tasks, every few seconds.
        "celery.worker.strategy": {"filters": ["without_routine_tasks"]},
        "celery.app.trace": {"filters": ["without_routine_tasks"]},
        # azure-ai-ml's loaders announce their experimental classes on import.
        "azure.ai.ml": {"level": "ERROR"},
        "azure.ai.ml._utils._experimental": {"level": "ERROR"},
        "azure.core.pipeline.policies.http_logging_policy": {"level": "WARNING"},
    },
}
