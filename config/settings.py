"""Settings profiles, read from environment variables.

`development` (the embedded default: a SQLite file under `instance/`, jobs in-process,
secrets generated once and kept in `instance/dev-secrets.json`, the certificate signing
key in `instance/cert-signing-key.pem`), `test` (a fresh signing key per app) and
`production` (every secret required). See `.env.example` for the variables.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"
DEFAULT_CATALOGUE = Path(__file__).resolve().parent / "catalogue.json"


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() not in {"0", "false", "no", "off"}


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None


class SettingsError(RuntimeError):
    """A setting the service refuses to start with; the message says how to fix it."""


def check_retention(retention_days: int, longest_window_days: int) -> None:
    """Refuse a raw-activity retention shorter than the longest scenario window.

    A record may be uploaded as long as its start lies within its scenario's window, and
    the overlap check needs the times of every activity it could overlap; the retention
    job keeps those times past the retention period when it must, but then it keeps raw
    details longer than the retention period promises. Start-up and catalogue import
    both refuse such a configuration (`SettingsError`, a `RuntimeError`)."""
    if retention_days < longest_window_days:
        raise SettingsError(
            f"RAW_ACTIVITY_RETENTION_DAYS is {retention_days} days, shorter than the longest "
            f"scenario window ({longest_window_days} days): trip times must be kept while an "
            "upload can still overlap them. Set RAW_ACTIVITY_RETENTION_DAYS to at least "
            f"{longest_window_days}, or shorten the scenario windows."
        )


def _new_signing_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _dev_signing_key() -> str:
    """The path of a development certificate signing key, generated once (mode 0600)."""
    INSTANCE.mkdir(exist_ok=True)
    path = INSTANCE / "cert-signing-key.pem"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return str(path)
    with os.fdopen(fd, "wb") as fh:
        fh.write(_new_signing_pem())
    return str(path)


def _dev_secret(name: str) -> str:
    """A secret generated on first use and kept beside the SQLite file, so restarts keep logins."""
    INSTANCE.mkdir(exist_ok=True)
    path = INSTANCE / "dev-secrets.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    if name not in stored:
        stored[name] = secrets.token_urlsafe(48)
        path.write_text(json.dumps(stored))
        path.chmod(0o600)
    return stored[name]


class Settings:
    PROFILE = "development"
    DATABASE_URL = ""
    REDIS_URL: str | None = None
    JWT_SECRET = ""
    PII_KEY = ""
    CERT_SIGNING_KEY = ""
    JWT_ISSUER = "sip-carbon-points"
    JWT_AUDIENCE = "sip-carbon-points-api"
    JWT_ALGORITHM = "HS256"
    ACCESS_TOKEN_SECONDS = 15 * 60
    REFRESH_TOKEN_SECONDS = 30 * 24 * 3600
    BIND_TOKEN_SECONDS = 15 * 60
    ORDER_EXPIRY_SECONDS = 7 * 24 * 3600
    SETTLEMENT_SWEEP_SECONDS = 300
    RESUME_BATCHES_AFTER_SECONDS = 120
    RAW_ACTIVITY_RETENTION_DAYS = 180
    # The reconciliation re-sums every posting at least this often; in between it checks
    # incrementally from the last verified report's high-water mark.
    RECONCILIATION_FULL_EVERY_DAYS = 7
    # Points expire at the end of the month (Asia/Shanghai) this many months after their
    # credit. Seeds the first published validity rule (`points_rules`); later changes are
    # published rules (staff `finance`, or the CLI), never retroactive.
    POINTS_VALIDITY_MONTHS = 120
    SYNC_BATCH_MAX_RECORDS = 10_000
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024
    RATELIMIT_ENABLED = True
    RATELIMIT_AUTH = "20 per minute"  # per client address, on each auth route
    RATELIMIT_LOGIN_NAME = "10 per minute"  # per login name (phone or login), on login
    # After this many failed logins of one name (within a day) it is locked out, for
    # LOGIN_LOCKOUT_SECONDS, doubling with each further failure up to the maximum; a
    # correct login once the lockout has passed clears the count.
    LOGIN_LOCKOUT_AFTER = 5
    LOGIN_LOCKOUT_SECONDS = 30
    LOGIN_LOCKOUT_MAX_SECONDS = 3600
    # How many reverse proxies in front of the app set X-Forwarded-For (0: none; the
    # header is then ignored and the client address is the socket's).
    TRUSTED_PROXIES = 0
    RATELIMIT_OBJECTIONS = "10 per hour"  # objections to notices, per client address
    # Where the public reaches this site (certificates' QR codes point at its /verify
    # page). Unset: the address of the request that renders the certificate.
    PUBLIC_BASE_URL: str | None = None
    EXPERT_QUORUM = 3  # an approval needs a majority of at least this many expert opinions
    NOTICE_WORKING_DAYS = 5  # a public notice runs at least this many working days
    # Browser sessions of the console and the merchant page: they end after this long
    # without a request, and after the maximum in any case.
    WEB_SESSION_IDLE_SECONDS = 30 * 60
    WEB_SESSION_MAX_SECONDS = 12 * 3600
    LOAD_DEFAULT_CATALOGUE = False
    LOG_LEVEL = "INFO"
    # argon2id cost of new password hashes (argon2-cffi's defaults: RFC 9106 low-memory)
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_KIB = 65536
    ARGON2_PARALLELISM = 4

    def __init__(self) -> None:
        self.DATABASE_URL = os.environ.get("DATABASE_URL") or self.default_database_url()
        self.REDIS_URL = os.environ.get("REDIS_URL") or None
        self.JWT_SECRET = os.environ.get("JWT_SECRET") or self.default_secret("JWT_SECRET")
        self.PII_KEY = os.environ.get("PII_KEY") or self.default_secret("PII_KEY")
        self.CERT_SIGNING_KEY = os.environ.get("CERT_SIGNING_KEY") or self.default_signing_key()
        self.RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)
        self.TRUSTED_PROXIES = _int("TRUSTED_PROXIES", self.TRUSTED_PROXIES)
        for name in ("LOGIN_LOCKOUT_AFTER", "LOGIN_LOCKOUT_SECONDS", "LOGIN_LOCKOUT_MAX_SECONDS"):
            setattr(self, name, _int(name, getattr(self, name)))
        self.ORDER_EXPIRY_SECONDS = _int("ORDER_EXPIRY_SECONDS", self.ORDER_EXPIRY_SECONDS)
        self.SETTLEMENT_SWEEP_SECONDS = _int(
            "SETTLEMENT_SWEEP_SECONDS", self.SETTLEMENT_SWEEP_SECONDS
        )
        self.RESUME_BATCHES_AFTER_SECONDS = _int(
            "RESUME_BATCHES_AFTER_SECONDS", self.RESUME_BATCHES_AFTER_SECONDS
        )
        self.RAW_ACTIVITY_RETENTION_DAYS = _int(
            "RAW_ACTIVITY_RETENTION_DAYS", self.RAW_ACTIVITY_RETENTION_DAYS
        )
        self.RECONCILIATION_FULL_EVERY_DAYS = _int(
            "RECONCILIATION_FULL_EVERY_DAYS", self.RECONCILIATION_FULL_EVERY_DAYS
        )
        self.POINTS_VALIDITY_MONTHS = _int("POINTS_VALIDITY_MONTHS", self.POINTS_VALIDITY_MONTHS)
        if not 1 <= self.POINTS_VALIDITY_MONTHS <= 1200:
            raise SettingsError("POINTS_VALIDITY_MONTHS must be between 1 and 1200 (months)")
        self.LOG_LEVEL = os.environ.get("LOG_LEVEL", self.LOG_LEVEL)
        for name in ("ARGON2_TIME_COST", "ARGON2_MEMORY_KIB", "ARGON2_PARALLELISM"):
            setattr(self, name, _int(name, getattr(self, name)))
        self.EXPERT_QUORUM = _int("EXPERT_QUORUM", self.EXPERT_QUORUM)
        self.PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL") or None
        self.NOTICE_WORKING_DAYS = _int("NOTICE_WORKING_DAYS", self.NOTICE_WORKING_DAYS)
        self.WEB_SESSION_IDLE_SECONDS = _int(
            "WEB_SESSION_IDLE_SECONDS", self.WEB_SESSION_IDLE_SECONDS
        )
        self.WEB_SESSION_MAX_SECONDS = _int("WEB_SESSION_MAX_SECONDS", self.WEB_SESSION_MAX_SECONDS)
        if self.RECONCILIATION_FULL_EVERY_DAYS < 0:
            raise SettingsError("RECONCILIATION_FULL_EVERY_DAYS must be at least 0 (days)")
        if self.RAW_ACTIVITY_RETENTION_DAYS < 1:
            raise SettingsError("RAW_ACTIVITY_RETENTION_DAYS must be at least 1 (days)")

    def default_database_url(self) -> str:
        INSTANCE.mkdir(exist_ok=True)
        return f"sqlite:///{INSTANCE / 'sip-carbon-points.sqlite3'}"

    def default_secret(self, name: str) -> str:
        return _dev_secret(name)

    def default_signing_key(self) -> str:
        return _dev_signing_key()

    def as_flask_config(self) -> dict:
        cfg = {k: getattr(self, k) for k in dir(self) if k.isupper()}
        cfg["SQLALCHEMY_DATABASE_URI"] = self.DATABASE_URL
        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(self.DATABASE_URL)
        cfg["RATELIMIT_STORAGE_URI"] = self.REDIS_URL or "memory://"
        cfg["RATELIMIT_HEADERS_ENABLED"] = True
        cfg["RATELIMIT_STRATEGY"] = "moving-window"
        # Redis down: count in this process's memory until it answers again (a login
        # must not fail because the rate-limit counters are out of reach).
        cfg["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] = True
        cfg["RATELIMIT_STORAGE_OPTIONS"] = {"socket_connect_timeout": 2, "socket_timeout": 2}
        cfg["API_TITLE"] = "SIP Carbon Points"
        cfg["API_VERSION"] = "v1"
        cfg["OPENAPI_VERSION"] = "3.0.3"
        cfg["OPENAPI_URL_PREFIX"] = "/api"
        cfg["OPENAPI_JSON_PATH"] = "openapi.json"
        # /api/docs and /api/redoc are served by backend.docs from the vendored files
        # (backend/static/vendor/), not by flask-smorest from a CDN.
        return cfg


class Development(Settings):
    PROFILE = "development"
    LOAD_DEFAULT_CATALOGUE = True


class Test(Settings):
    PROFILE = "test"
    RATELIMIT_AUTH = "1000 per minute"
    # test profile only: a cheap argon2id cost (still argon2id), so the suite's time goes
    # to what it tests rather than to hashing
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_KIB = 1024
    ARGON2_PARALLELISM = 1
    RATELIMIT_LOGIN_NAME = "1000 per minute"
    LOGIN_LOCKOUT_AFTER = 100
    RATELIMIT_OBJECTIONS = "1000 per minute"

    def default_secret(self, name: str) -> str:
        return f"test-{name}-" + "x" * 40

    def default_signing_key(self) -> str:
        return _new_signing_pem().decode("ascii")


class Production(Settings):
    PROFILE = "production"

    def default_database_url(self) -> str:
        raise RuntimeError("DATABASE_URL is required in production")

    def default_secret(self, name: str) -> str:
        raise RuntimeError(f"{name} is required in production")

    def default_signing_key(self) -> str:
        raise RuntimeError("CERT_SIGNING_KEY is required in production")


PROFILES = {"development": Development, "test": Test, "production": Production}


def load(profile: str | None = None) -> Settings:
    name = profile or os.environ.get("APP_PROFILE", "development")
    if name not in PROFILES:
        raise RuntimeError(f"unknown APP_PROFILE {name!r}; one of {sorted(PROFILES)}")
    return PROFILES[name]()


def engine_options(url: str) -> dict:
    # hide_parameters: SQL errors in logs never carry row values (phones, references).
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}, "hide_parameters": True}
    return {
        "pool_size": 10,
        "max_overflow": 20,
        "pool_pre_ping": True,
        "hide_parameters": True,
        # A lock wait past 15 s gives up (409 retry) well before an Idempotency-Key
        # claim (60 s) can be taken over by a retry.
        "connect_args": {"options": "-c lock_timeout=15000"},
    }
