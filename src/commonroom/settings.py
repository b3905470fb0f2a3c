"""Django settings for Commonroom, read from the environment.

Every setting an operator may change is read here from an environment variable and listed in the
README's configuration table. Defaults give a working single-machine install: SQLite in WAL mode
and files on the local disk, both under ``COMMONROOM_DATA_DIR``. ``COMMONROOM_ENV=production``
switches on the HTTPS-only hardening that ``manage.py check --deploy`` asks for.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url

from commonroom.core.request_log import logging_config

BASE_DIR = Path(__file__).resolve().parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


PRODUCTION = env("COMMONROOM_ENV", "development") == "production"
DEBUG = env_bool("COMMONROOM_DEBUG", False)
# Everything this process and the processes it starts create is its owner's alone: folders
# 0700, files 0600 (the SQLite database and its -wal/-shm, blobs, previews, keys), whatever the
# umask it was started with. Set here, before any file is made, because every way in (the
# `commonroom` command and the worker it starts, the ASGI and WSGI applications) reads these
# settings first. `serve` warns when the data directory is readable by others (made so by hand).
os.umask(0o077)
DATA_DIR = Path(env("COMMONROOM_DATA_DIR", str(Path.cwd() / "var"))).resolve()
DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY from the environment; in development, one generated once and kept on disk."""
    key = env("SECRET_KEY")
    if key:
        return key
    if PRODUCTION:
        raise RuntimeError("SECRET_KEY must be set when COMMONROOM_ENV=production")
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()


def _audit_key() -> bytes:
    """The key of the audit trail's HMACs, kept outside the database: ``COMMONROOM_AUDIT_KEY``,
    or one generated once into ``<data dir>/audit_key`` (0600). Someone who can write the
    database but cannot read this key cannot forge a chain. Every server of one installation
    needs the same key; a process with another one refuses to write to the trail."""
    key = env("COMMONROOM_AUDIT_KEY")
    if key:
        if len(key) < 32:
            raise RuntimeError(
                "COMMONROOM_AUDIT_KEY must be at least 32 characters, for example "
                "the output of: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return key.encode()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key_file = DATA_DIR / "audit_key"
    if not key_file.exists():
        # Written whole under another name, then linked into place: a second process starting at
        # the same moment reads either no file or the whole key, and both keep the first one.
        tmp = DATA_DIR / f".audit_key-{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, key_file)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    value = key_file.read_text().strip()
    if len(value) < 32:
        raise RuntimeError(f"{key_file} holds no usable audit key (under 32 characters).")
    return value.encode()


COMMONROOM_AUDIT_KEY = _audit_key()
# Each checkpoint of the audit chains is appended here too, outside the database.
COMMONROOM_AUDIT_CHECKPOINTS = Path(
    env("COMMONROOM_AUDIT_CHECKPOINTS", str(DATA_DIR / "audit-checkpoints.jsonl"))
)
# ...and, when set, sent to syslog: a socket path (/dev/log) or host:port (UDP).
COMMONROOM_AUDIT_SYSLOG = env("COMMONROOM_AUDIT_SYSLOG")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
SITE_URL = env("COMMONROOM_SITE_URL", "http://127.0.0.1:8000").rstrip("/")


def _trusted_proxies() -> list[str]:
    """The reverse proxies whose X-Forwarded-For is believed (core/request_info.py): addresses
    or networks. Empty: nobody's; the connection's own address is the client's. An entry that
    is neither stops the start: a mistyped proxy would make every client one."""
    entries = env_list("COMMONROOM_TRUSTED_PROXIES", "")
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise RuntimeError(
                "COMMONROOM_TRUSTED_PROXIES lists addresses or networks of your reverse proxies "
                f"(such as 127.0.0.1 or 10.0.0.0/24), separated by commas; {entry!r} is neither"
            ) from None
    return entries


COMMONROOM_TRUSTED_PROXIES = _trusted_proxies()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "django_htmx",
    # ninja's own Swagger UI files, so the API docs work offline and under the CSP.
    "ninja",
    "django_tasks",
    "django_tasks_db",
    "commonroom.core",
    "commonroom.accounts",
    "commonroom.audit",
    "commonroom.workspaces",
    "commonroom.documents",
    "commonroom.comments",
    "commonroom.live",
    "commonroom.conversations",
    "commonroom.notifications",
    "commonroom.previews",
    "commonroom.search",
    "commonroom.suggestions",
    "commonroom.approvals",
    "commonroom.webdav",
    "commonroom.demo",
]

MIDDLEWARE = [
    # The request's id in its answer and log lines; the matched route for the metrics.
    "commonroom.core.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "commonroom.core.staticfiles.StaticFilesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "commonroom.accounts.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "commonroom.core.middleware.SecurityHeadersMiddleware",
    "commonroom.core.middleware.ApplicationErrorMiddleware",
    "commonroom.accounts.middleware.RequireSecondFactorMiddleware",
    "commonroom.live.middleware.LiveAfterMiddleware",
]

ROOT_URLCONF = "commonroom.urls"
ASGI_APPLICATION = "commonroom.asgi.application"
WSGI_APPLICATION = "commonroom.wsgi.application"

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
                "commonroom.core.context_processors.commonroom",
                "commonroom.accounts.context_processors.account",
                "commonroom.notifications.context_processors.unread",
            ],
            # ``{% url %}`` with its reversals kept (core/templatetags/urls.py).
            "builtins": ["commonroom.core.templatetags.urls"],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# SQLite (WAL, IMMEDIATE transactions so concurrent writers queue instead of failing) unless
# DATABASE_URL names another database. On SQLite every commit is fsynced to the write-ahead log
# before it returns (synchronous=FULL), as PostgreSQL's commit is (synchronous_commit=on): an
# upload answered is on disk, its row as its file (decision 34).
_sqlite_path = DATA_DIR / "commonroom.sqlite3"
DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    DATABASES: dict[str, dict[str, Any]] = {
        "default": dict(
            dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))
        )
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": _sqlite_path}}
# PostgreSQL: a serving process (and a worker) borrows connections from a pool of its own
# (psycopg_pool) instead of opening one per request (a new server process each: 3 to 25 ms, and
# an upload has two, the guard's and the view's). A connection is checked before it is lent (a
# server restarted meanwhile costs no request) and given back when its request ends.
# DB_POOL_SIZE caps each process's pool; 0, the default for every other command and for the
# tests' own process, opens a connection each time as before (``cli.py`` and ``asgi.py`` set
# it for the processes that serve). Persistent connections (DB_CONN_MAX_AGE) exclude the pool
# (decision 38); under ASGI a request's thread is kept between requests (decision 47), so a
# connection kept by age stays open in an idle thread: up to 8 a serving process.
DB_POOL_SIZE = env_int("DB_POOL_SIZE", 0)
# Requests whose middleware and view run at the same time in one serving process
# (core/asgi_body.py); the rest wait their turn on the event loop, holding no database
# connection. Uploads, whose views run while their bodies arrive, take no turn. The
# default is the connections a serving process's pool holds (cli.SERVING_POOL_SIZE), so no view
# waits for one.
COMMONROOM_VIEWS_AT_ONCE = max(env_int("COMMONROOM_VIEWS_AT_ONCE", 20), 1)
if (
    DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    and DB_POOL_SIZE > 0
    and not DATABASES["default"].get("CONN_MAX_AGE")
):
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Django's backend, but a transaction the server ended fails without waiting for the pool
    # (core/pooled_postgresql).
    DATABASES["default"]["ENGINE"] = "commonroom.core.pooled_postgresql"
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DB_POOL_SIZE,
        "timeout": 30,  # seconds a request waits for a connection when all are lent
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's, with the connections a serving process closes kept for its next requests
    # (core/pooled_sqlite3, decision 36).
    DATABASES["default"]["ENGINE"] = "commonroom.core.pooled_sqlite3"
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
            " PRAGMA busy_timeout=30000;"
        ),
    }
    # Idle connections each serving process keeps for its next requests (0: none).
    SQLITE_POOL_SIZE = env_int("COMMONROOM_SQLITE_POOL", 4)
    # Tests use a file, not shared-cache memory, so that threads see real WAL locking.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-commonroom.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts -------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
# Argon2id at OWASP's recommended cost, a few hashings at a time per process (decision 57).
PASSWORD_HASHERS = [
    "commonroom.accounts.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
COMMONROOM_PASSWORD_HASHES_AT_ONCE = max(env_int("COMMONROOM_PASSWORD_HASHES_AT_ONCE", 2), 1)
# How long a sign-in waits for a turn to hash before it is answered 503 ("many people are signing
# in"), instead of waiting as long as the queue is, holding its database connection.
COMMONROOM_PASSWORD_HASH_WAIT_SECONDS = max(env_int("COMMONROOM_PASSWORD_HASH_WAIT_SECONDS", 20), 1)
# Sign-ins in progress at once from one client address (accounts/throttle.py): past it, the
# next is asked to try again in a few seconds before its password is looked at.
COMMONROOM_SIGN_INS_AT_ONCE = max(env_int("COMMONROOM_SIGN_INS_AT_ONCE", 100), 1)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_ADAPTER = "commonroom.accounts.adapters.AccountAdapter"
USERSESSIONS_ADAPTER = "commonroom.accounts.adapters.UserSessionsAdapter"
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PREVENT_ENUMERATION = True
# Failed sign-ins, counted by allauth: "ip" is the client (as core/request_info.py trusts it),
# across every account; "key" is one account from one client (accounts/adapters.py), so a
# guesser somewhere else cannot lock the account's owner out.
ACCOUNT_RATE_LIMITS = {
    # Failed sign-ins per client address (ip) and per account at one client (key). allauth
    # reserves one of each before it checks the password and gives it back on success; here
    # only the account's is reserved (accounts/adapters.py): the address's is checked first and
    # counted when a password proves wrong, since a trust's staff arriving together behind one
    # NAT address have many sign-ins in progress at once (the load benchmark, issue 17). Those
    # are bounded instead by COMMONROOM_SIGN_INS_AT_ONCE. An account's own guesses stay at 5
    # and are slowed from everywhere (accounts/throttle.py).
    "login_failed": env("COMMONROOM_LOGIN_RATE_LIMIT", "30/m/ip,5/5m/key"),
    # Sign-in forms per client address: limited by accounts/throttle.py instead
    # (COMMONROOM_SIGNIN_ADDRESS_RATE below), without allauth's lock on one cache entry.
    "login": "",
}
# Sign-in forms sent from one client address, successful ones included (only a flood guard:
# failures have their own limits). allauth's default, 30 a minute, would turn away a trust's
# staff arriving together behind one NAT address. Written as allauth writes a rate.
COMMONROOM_SIGNIN_ADDRESS_RATE = env("COMMONROOM_SIGNIN_ADDRESS_RATE", "600/m/ip")


# ...and one account's failures from everywhere (accounts/throttle.py): past the first N within
# a window of each other, each password attempt on it waits its turn, twice as long each time
# (1 s, 2 s, 4 s...) up to the longest wait. Slowed, never locked: a passkey and a password-reset
# link still get its owner in, and the refusal says so.
def _backoff(value: str) -> tuple[int, int, int]:
    """``<failures>/<window>/<longest wait>`` (durations as allauth writes them: 30s, 5m, 1h,
    1d) as (failures, window seconds, longest wait seconds)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}

    def seconds(text: str) -> int:
        number, unit = text[:-1] or "1", text[-1:]
        if unit not in units or not number.isdigit() or int(number) < 1:
            raise ValueError(text)
        return int(number) * units[unit]

    try:
        failures, window, longest = value.split("/")
        if not failures.isdigit():
            raise ValueError(failures)
        return int(failures), seconds(window), seconds(longest)
    except ValueError:
        raise RuntimeError(
            "COMMONROOM_LOGIN_ACCOUNT_BACKOFF is <failures>/<window>/<longest wait>, such as "
            f"10/1h/5m; {value!r} is not"
        ) from None


COMMONROOM_LOGIN_ACCOUNT_BACKOFF = _backoff(env("COMMONROOM_LOGIN_ACCOUNT_BACKOFF", "10/1h/5m"))
# A password-reset link signs its person in (through the second factor, if they have one).
ACCOUNT_LOGIN_ON_PASSWORD_RESET = True
# How long after proving who they are (signing in, setting their password on accepting an
# invitation, confirming it again) a person is not asked to confirm it again before changing
# their second factors: long enough to install an authenticator app on a phone.
ACCOUNT_REAUTHENTICATION_TIMEOUT = 10 * 60
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_FORMS = {
    "add_webauthn": "commonroom.accounts.forms.AddPasskeyForm",
    # Second factors limited as passwords are (accounts/adapters.py, SecondFactorLimit).
    "authenticate": "commonroom.accounts.forms.SignInCodeForm",
    "reauthenticate": "commonroom.accounts.forms.ConfirmCodeForm",
    "activate_totp": "commonroom.accounts.forms.FirstAppCodeForm",
    "authenticate_webauthn": "commonroom.accounts.forms.SignInPasskeyForm",
    "reauthenticate_webauthn": "commonroom.accounts.forms.ConfirmPasskeyForm",
}
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_TOTP_ISSUER = "Commonroom"
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = not PRODUCTION
# Who must have a second factor: "all", "staff" or "none".
COMMONROOM_MFA_REQUIRED = env("COMMONROOM_MFA_REQUIRED", "staff" if PRODUCTION else "none")
# Sessions are recorded at sign-in (for "sign out everywhere"); not rewritten on every request.
USERSESSIONS_TRACK_ACTIVITY = False

# --- Single sign-on (accounts/sso.py) --------------------------------------------------------
# Staff sign in with their organisation's identity (NHSmail / Entra ID, NHS CIS2) over OpenID
# Connect when COMMONROOM_OIDC_ISSUER is set. Only addresses at COMMONROOM_OIDC_DOMAINS may use
# it, and only they get an account made at their first sign-in; guests keep email + password.
COMMONROOM_OIDC_ISSUER = env("COMMONROOM_OIDC_ISSUER").rstrip("/")
COMMONROOM_OIDC_CLIENT_ID = env("COMMONROOM_OIDC_CLIENT_ID")
COMMONROOM_OIDC_CLIENT_SECRET = env("COMMONROOM_OIDC_CLIENT_SECRET")
COMMONROOM_OIDC_LABEL = env("COMMONROOM_OIDC_LABEL", "Sign in with NHSmail")
COMMONROOM_OIDC_DOMAINS = {d.lower() for d in env_list("COMMONROOM_OIDC_DOMAINS", "nhs.net")}
# What the provider says of its own second factor that spares a second one here: any of these
# `amr` values (RFC 8176; Entra ID sends "mfa") or `acr` values (CIS2's assurance levels).
COMMONROOM_OIDC_MFA_AMR = set(env_list("COMMONROOM_OIDC_MFA_AMR", "mfa"))
COMMONROOM_OIDC_MFA_ACR = set(env_list("COMMONROOM_OIDC_MFA_ACR", ""))
if COMMONROOM_OIDC_ISSUER and not (COMMONROOM_OIDC_CLIENT_ID and COMMONROOM_OIDC_CLIENT_SECRET):
    raise RuntimeError(
        "COMMONROOM_OIDC_ISSUER needs COMMONROOM_OIDC_CLIENT_ID and COMMONROOM_OIDC_CLIENT_SECRET"
    )
# Pages' forms may lead there (signing in and out end in a redirect to it): the CSP says so.
COMMONROOM_FORM_ACTION_ORIGINS = (
    ["{0.scheme}://{0.netloc}".format(urlsplit(COMMONROOM_OIDC_ISSUER))]
    if COMMONROOM_OIDC_ISSUER
    else []
)
SOCIALACCOUNT_ADAPTER = "commonroom.accounts.sso.SocialAccountAdapter"
SOCIALACCOUNT_PROVIDERS: dict[str, Any] = {
    "openid_connect": {
        "provider_class": "commonroom.accounts.sso.Provider",
        "OAUTH_PKCE_ENABLED": True,
        "APPS": (
            [
                {
                    "provider_id": "sso",
                    "name": COMMONROOM_OIDC_LABEL,
                    "client_id": COMMONROOM_OIDC_CLIENT_ID,
                    "secret": COMMONROOM_OIDC_CLIENT_SECRET,
                    "settings": {"server_url": COMMONROOM_OIDC_ISSUER},
                }
            ]
            if COMMONROOM_OIDC_ISSUER
            else []
        ),
    }
}
# The provider's pages are reached by a plain link: allauth's sign-in button posts to ours.
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_REQUIRED = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_ONLY = False
SOCIALACCOUNT_REQUESTS_TIMEOUT = 10

# Django's database sessions, each request's own read with SQL built once per process.
SESSION_ENGINE = "commonroom.accounts.sessions"
SESSION_COOKIE_AGE = env_int("COMMONROOM_SESSION_AGE", 12 * 3600)
SESSION_SAVE_EVERY_REQUEST = False
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

# --- Invitations, uploads, storage -----------------------------------------------------------
COMMONROOM_INVITATION_DAYS = env_int("COMMONROOM_INVITATION_DAYS", 14)
# The hour (0-23, TIME_ZONE) at which the workers send the daily notification digests.
COMMONROOM_DIGEST_HOUR = min(max(env_int("COMMONROOM_DIGEST_HOUR", 7), 0), 23)
# People invited from these email domains get staff accounts; everyone else is an external guest.
COMMONROOM_STAFF_EMAIL_DOMAINS = {d.lower() for d in env_list("COMMONROOM_STAFF_EMAIL_DOMAINS", "")}
# Largest file accepted, in bytes (default 2 GiB). Checked while the upload streams in.
COMMONROOM_MAX_UPLOAD_BYTES = env_int("COMMONROOM_MAX_UPLOAD_BYTES", 2 * 1024**3)
# Uploads one person may have in progress at once, over every server process (429 past it).
COMMONROOM_MAX_CONCURRENT_UPLOADS = max(env_int("COMMONROOM_MAX_CONCURRENT_UPLOADS", 4), 1)
# A request body of which nothing arrives for this many seconds is dropped (408).
COMMONROOM_BODY_STALL_SECONDS = max(env_int("COMMONROOM_BODY_STALL_SECONDS", 30), 1)
FILE_UPLOAD_HANDLERS = ["commonroom.documents.uploads.HashingUploadHandler"]
# Request bodies over 1 MiB are spooled to disk, never held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Beside the blobs, so that a finished upload is linked into place rather than copied.
FILE_UPLOAD_TEMP_DIR = env("COMMONROOM_UPLOAD_TEMP_DIR", str(DATA_DIR / "tmp"))
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
# Stored files are the owner's alone; their folders are 0700 by the umask above.
FILE_UPLOAD_PERMISSIONS = 0o600

MEDIA_ROOT = Path(env("COMMONROOM_MEDIA_ROOT", str(DATA_DIR / "files")))
STORAGE_BACKEND = env("COMMONROOM_STORAGE", "filesystem")
# S3 only: how long a download's presigned URL stays valid (the browser follows it at once).
COMMONROOM_S3_URL_SECONDS = max(env_int("COMMONROOM_S3_URL_SECONDS", 60), 1)
# S3 only: an unreachable store fails a request in seconds (503), not after botocore's default
# minute of waiting and retrying. Connect and read timeouts in seconds (the read timeout bounds
# each wait for the store, not a whole transfer), and the attempts per call (first and retries).
COMMONROOM_S3_CONNECT_TIMEOUT = max(env_int("COMMONROOM_S3_CONNECT_TIMEOUT", 3), 1)
COMMONROOM_S3_READ_TIMEOUT = max(env_int("COMMONROOM_S3_READ_TIMEOUT", 20), 1)
COMMONROOM_S3_ATTEMPTS = max(env_int("COMMONROOM_S3_ATTEMPTS", 2), 1)


S3_READ_MEMORY_BYTES = 8 * 1024 * 1024


def s3_blob_storage(*, bucket: str, endpoint_url: str | None, region: str | None) -> dict[str, Any]:
    """The storage of blobs in an S3 bucket (``core.s3_storage``), as ``STORAGES["default"]``."""
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config

    return {
        "BACKEND": "commonroom.core.s3_storage.ContentAddressedS3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint_url or None,
            "region_name": region or None,
            "file_overwrite": True,  # content-addressed names: same name, same bytes
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": COMMONROOM_S3_URL_SECONDS,
            # A stored file opened for reading (WebDAV's GET, a preview, a stamped copy) is
            # fetched into a spool that moves to a temporary file on disk past this size
            # (django-storages' default, 0, keeps the whole object in memory however large).
            "max_memory_size": S3_READ_MEMORY_BYTES,
            # boto3's transfers (a save, a read into that spool) one part at a time in the
            # request's own thread: its default ten threads each hold a part of 8 MiB.
            "transfer_config": TransferConfig(use_threads=False),
            "client_config": Config(
                connect_timeout=COMMONROOM_S3_CONNECT_TIMEOUT,
                read_timeout=COMMONROOM_S3_READ_TIMEOUT,
                retries={"max_attempts": COMMONROOM_S3_ATTEMPTS, "mode": "standard"},
            ),
        },
    }


if STORAGE_BACKEND == "s3":
    _blob_storage: dict[str, Any] = s3_blob_storage(
        bucket=env("AWS_STORAGE_BUCKET_NAME"),
        endpoint_url=env("AWS_S3_ENDPOINT_URL"),
        region=env("AWS_S3_REGION_NAME"),
    )
else:
    _blob_storage = {
        "BACKEND": "commonroom.documents.storage.DurableFileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT)},
    }
STORAGES = {
    "default": _blob_storage,
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        ),
        # Static files are public and served by nginx (docs/deploy.md): readable by all
        # whenever collectstatic writes them (the manifest's post-processing rewrites files
        # on every run, which FILE_UPLOAD_PERMISSIONS would leave the owner's alone).
        "OPTIONS": {"file_permissions_mode": 0o644, "directory_permissions_mode": 0o755},
    },
}
STATIC_URL = "/static/"
# Our CSS/JS and the vendored NHS.UK frontend live in the package, not in an installed app.
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("COMMONROOM_STATIC_ROOT", str(DATA_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = not PRODUCTION

# --- Email ----------------------------------------------------------------------------------
# With no EMAIL_HOST, emails are printed by the server (development); set it to send them.
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if env("EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_int("EMAIL_PORT", 1025)
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Commonroom <commonroom@localhost>")

# --- Live updates (websockets) --------------------------------------------------------------
# In memory in one process by default (events written by other processes reach it through the
# event log, see live/relay.py); Redis when REDIS_URL is set, for several servers.
REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialWithJitterBackoff

    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        # No read timeout: a socket's receive is a blocking pop that waits for
                        # the next message; redis-py 8's 5-second default would end idle ones.
                        "socket_timeout": None,
                        # While Redis is unreachable a handshake gives up within 2 s (the
                        # socket is closed 1013 and the page tries again: live/outage.py).
                        "socket_connect_timeout": 2,
                        # A connection the network dropped silently is found by TCP keepalive;
                        # one idle for 5 s is checked with PING before use.
                        "socket_keepalive": True,
                        "health_check_interval": 5,
                        # A connection error or timeout is retried on a new connection: after
                        # a Redis restart the pool's idle connections are dead, and without this
                        # the first command on each fails ("Connection closed by server").
                        "retry": Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), 3),
                    }
                ],
                "prefix": env("COMMONROOM_CHANNEL_PREFIX", "commonroom"),
                "capacity": 1000,
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            # Channels' own, its clean-up made to scale with many sockets (live/layers.py).
            "BACKEND": "commonroom.live.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": 1000},
        }
    }

# Live events are kept this many days; a screen offline for longer reloads instead of replaying.
COMMONROOM_EVENT_DAYS = env_int("COMMONROOM_EVENT_DAYS", 30)

# --- State several processes share (core/shared_state.py) ------------------------------------
# Sign-in rate limits, the second factor's used codes, the PDF page budget, the comparison
# cache and each person's upload slots live in Django's cache. With REDIS_URL it is Redis, shared
# by every process and machine; without it each process has its own memory, which is sound for
# one process only:
# `commonroom serve --workers N` (N > 1) and COMMONROOM_ENV=production refuse to start then.
if REDIS_URL:
    from redis.backoff import ExponentialWithJitterBackoff as _Backoff
    from redis.retry import Retry as _Retry

    CACHES: dict[str, dict[str, Any]] = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # Beside the channel layer's keys, apart from other installations' (and from other
            # Django sites': this cache is never cleared by Commonroom).
            "KEY_PREFIX": f"{env('COMMONROOM_CHANNEL_PREFIX', 'commonroom')}:cache",
            "OPTIONS": {
                # A sign-in waits at most this long for Redis, then fails (never lets through).
                "socket_connect_timeout": 2,
                "socket_timeout": 2,
                "health_check_interval": 5,
                "retry": _Retry(_Backoff(base=0.05, cap=0.5), 3),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SHARED_CACHE = bool(REDIS_URL)
# Rendered page fragments (core/fragments.py): each process's own memory in every case, sound
# with any number of processes because each fragment is found by a key read from the database.
# Kept well inside COMMONROOM_EVENT_DAYS (a key is the workspace's newest live event).
COMMONROOM_FRAGMENT_SECONDS = max(env_int("COMMONROOM_FRAGMENT_SECONDS", 600), 0)
CACHES["fragments"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "commonroom-fragments",
    "TIMEOUT": COMMONROOM_FRAGMENT_SECONDS,
    "OPTIONS": {"MAX_ENTRIES": max(env_int("COMMONROOM_FRAGMENT_ENTRIES", 200), 1)},
}

# --- Background tasks -----------------------------------------------------------------------
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# How often the workers' housekeeping runs (core/scheduling.py): once per installation each time,
# tasks of dead workers given back and previews with no task enqueued again; once per machine,
# converter work folders of dead processes removed and the audit chains' checkpoint written.
COMMONROOM_HOUSEKEEPING_SECONDS = max(env_int("COMMONROOM_HOUSEKEEPING_SECONDS", 120), 1)

# Previews are made in a child process with these limits (seconds of wall-clock time; MiB of
# address space). A preview over either fails with a message; the worker carries on.
COMMONROOM_PREVIEW_TIMEOUT = env_int("COMMONROOM_PREVIEW_TIMEOUT", 60)
COMMONROOM_PREVIEW_MEMORY_MB = env_int("COMMONROOM_PREVIEW_MEMORY_MB", 1024)
# The child also shuts itself in (Landlock, seccomp; core/confine.py). "best-effort" converts
# with the layers the kernel offers and logs the missing ones; "required" refuses to convert
# without the file and network layers. It governs every confined child (core/sandbox.py): a
# download's version stamp is then left out instead.
COMMONROOM_PREVIEW_CONFINE = env("COMMONROOM_PREVIEW_CONFINE", "best-effort")
if COMMONROOM_PREVIEW_CONFINE not in {"best-effort", "required"}:
    # A mistyped "required" must not quietly become "best-effort".
    raise RuntimeError(
        "COMMONROOM_PREVIEW_CONFINE must be best-effort or required, "
        f"not {COMMONROOM_PREVIEW_CONFINE!r}"
    )

# The signed certificate PDF of a final record (certificates/): LibreOffice (soffice) renders
# Office files, within this many seconds (its memory: COMMONROOM_CERTIFICATE_MEMORY_MB). The
# installation signs with the key and certificate named here (PEM files), or with its own made
# on first use under <data dir>/records-signing/; its name goes in the certificate's subject.
COMMONROOM_CERTIFICATE_TIMEOUT = max(env_int("COMMONROOM_CERTIFICATE_TIMEOUT", 120), 1)
COMMONROOM_CERTIFICATE_MEMORY_MB = max(env_int("COMMONROOM_CERTIFICATE_MEMORY_MB", 3072), 256)
COMMONROOM_SOFFICE = env("COMMONROOM_SOFFICE")
COMMONROOM_RECORDS_SIGNING_KEY = env("COMMONROOM_RECORDS_SIGNING_KEY")
COMMONROOM_RECORDS_SIGNING_CERT = env("COMMONROOM_RECORDS_SIGNING_CERT")
COMMONROOM_SITE_NAME = env("COMMONROOM_SITE_NAME")
if bool(COMMONROOM_RECORDS_SIGNING_KEY) != bool(COMMONROOM_RECORDS_SIGNING_CERT):
    raise RuntimeError(
        "COMMONROOM_RECORDS_SIGNING_KEY and COMMONROOM_RECORDS_SIGNING_CERT go together: "
        "set both or neither"
    )

# --- Security -------------------------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Asked of each process directly over plain HTTP on its own port (a monitor, Prometheus), not
# through the proxy: answered there rather than redirected to HTTPS (production redirects).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env("TIME_ZONE", "Europe/London")
USE_I18N = True
USE_TZ = True

# Log lines as text (the default) or, with "json", one JSON object a line carrying the request's
# id (core/request_log.py), plus an access line per request in place of uvicorn's.
COMMONROOM_LOG_FORMAT = env("COMMONROOM_LOG_FORMAT", "text")
if COMMONROOM_LOG_FORMAT not in {"text", "json"}:
    raise RuntimeError(f"COMMONROOM_LOG_FORMAT must be text or json, not {COMMONROOM_LOG_FORMAT!r}")
LOGGING = logging_config(log_format=COMMONROOM_LOG_FORMAT, level=env("LOG_LEVEL", "WARNING"))


def _metrics_allow() -> list[str]:
    """Who may read /metrics (core/metrics.py): addresses or networks; a proxied request never.
    An entry that is neither stops the start."""
    entries = env_list("COMMONROOM_METRICS_ALLOW", "127.0.0.1,::1")
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise RuntimeError(
                "COMMONROOM_METRICS_ALLOW lists the addresses or networks allowed to read "
                f"/metrics (such as 127.0.0.1 or 10.0.0.0/24), separated by commas; {entry!r} "
                "is neither"
            ) from None
    return entries


COMMONROOM_METRICS_ALLOW = _metrics_allow()
