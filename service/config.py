"""Settings from environment variables (prefix ``GRADER_``); the only place env is read."""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from service.domain.callbacks.destinations import parse_allowed

# A DNS name (or an IPv4 address), as a Host header names it.
_HOST_NAME = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+$")
# Addresses a server listens on, never ones a browser can be sent to.
_WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
# The shortest GRADER_BOOTSTRAP_ADMIN_KEY accepted; the keys service checks the same length
# (service.domain.keys.service.MIN_BOOTSTRAP_KEY_CHARS) for callers that bypass Settings.
MIN_BOOTSTRAP_KEY_CHARS = 32
# URL schemes that mean PostgreSQL without naming a driver (Heroku-style ``postgres://``,
# libpq's ``postgresql://``): SQLAlchemy would pick psycopg2, which is not installed.
_POSTGRES_SCHEMES = ("postgres://", "postgresql://")
POSTGRES_DRIVER_SCHEME = "postgresql+psycopg://"


def split_list(value: str) -> list[str]:
    """A comma-separated setting as its non-empty, stripped items."""
    return [item.strip() for item in value.split(",") if item.strip()]


def normalise_database_url(value: str) -> str:
    """The URL with the psycopg driver named for PostgreSQL, and a relative SQLite path made
    absolute against the current folder, once, so every later ``chdir`` or child process
    (``serve --workers``) opens the same file, and the start-up line can name it."""
    value = value.strip()
    for scheme in _POSTGRES_SCHEMES:
        if value.startswith(scheme):
            return POSTGRES_DRIVER_SCHEME + value[len(scheme) :]
    try:
        url = make_url(value)
    except ArgumentError:
        return value  # reported, with the fix, by the command line's start-up checks
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        database = url.database or ""
        if not database.startswith("file:") and not Path(database).is_absolute():
            return url.set(database=str(Path(database).resolve())).render_as_string(
                hide_password=False
            )
    return value


def _is_ip_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRADER_", extra="ignore")

    database_url: str = "sqlite:///./data/grader.db"
    # Show tracebacks of start-up errors (the command line's --debug does the same).
    debug: bool = False
    rubrics_dir: Path = Path("rubrics")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"
    log_json: bool = False
    db_pool_size: int = Field(default=10, ge=1)
    # Request bodies above this are refused with 413 before they are read in full.
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    # Fitted graders kept in memory, keyed by rubric hash and engine version.
    grader_cache_size: int = Field(default=256, ge=1)
    # How long an authenticated key is remembered per process (0 turns it off). A key revoked
    # in another process stops working here after at most this long; here, at once.
    key_cache_seconds: float = Field(default=0.5, ge=0, le=1.0)
    # Public address of the service, for the students' feedback URLs (default: the address
    # the request came in on; set it behind a proxy).
    public_base_url: str | None = None
    # The first admin key on an empty database; unset, `serve` generates and prints one.
    bootstrap_admin_key: SecretStr | None = None
    # Background work (rescoring jobs, callback deliveries) in a thread of each API process;
    # turn off to run only dedicated `python -m service worker` processes.
    worker_enabled: bool = True
    worker_poll_seconds: float = Field(default=1.0, gt=0)
    job_batch_size: int = Field(default=200, ge=1)
    job_lease_seconds: float = Field(default=30.0, gt=0)
    callback_max_attempts: int = Field(default=8, ge=1)
    callback_base_delay_seconds: float = Field(default=2.0, ge=0)
    callback_timeout_seconds: float = Field(default=5.0, gt=0)
    # A submission whose scoring failed is retried by the worker after base delay x 2^(n-1)
    # (n = attempts so far); after the last attempt it becomes ``error`` for hand grading.
    scoring_max_attempts: int = Field(default=5, ge=1)
    scoring_base_delay_seconds: float = Field(default=30.0, ge=0)
    # Reliability and benchmarking: fail fast when the database is down (seconds to open a
    # PostgreSQL connection, or to wait for a pooled one; then 503 + Retry-After), and the
    # bare comparison endpoint of bench/http_load.py (never turn it on in production).
    db_connect_timeout_seconds: float = Field(default=3.0, gt=0)
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    bench_endpoints: bool = False
    # Security, limits and observability. Rate limits are "N/period" ("600/minute", or
    # several joined by ";"), empty to turn one off: per admin/instructor key; per integration
    # key (higher: one LMS key carries a whole course, and deadlines arrive as bursts); failed
    # credentials (unknown API keys, unknown feedback links) per client address. Storage
    # "memory://" counts per process; "redis://host:6379" shares the budget between processes.
    rate_limit: str = "600/minute"
    rate_limit_integration: str = "3000/minute"
    rate_limit_failed_auth: str = "60/minute"
    rate_limit_storage: str = "memory://"
    # GET /metrics (Prometheus) is served only when a token is set, and scrapers must send
    # "Authorization: Bearer <token>"; without a token (the default) the route does not
    # exist. GRADER_METRICS_ENABLED=false turns it off even with a token.
    metrics_enabled: bool = True
    metrics_token: Annotated[SecretStr | None, Field(min_length=16)] = None
    # The API reference (/docs, /redoc, /openapi.json, served from installed assets, never
    # a CDN). GRADER_DOCS_ENABLED=false removes all three, e.g. on a public deployment.
    docs_enabled: bool = True
    # Deployment exposure (README "Deployment settings"). Idempotency records are kept this
    # many days, then a retry with the same key counts as a new request; the worker deletes
    # them.
    idempotency_ttl_days: float = Field(default=7.0, gt=0)
    # Without public_base_url, links in responses use the request's Host only when it names
    # one of these hosts (comma-separated names or IPs, no ports; the configured `host` is
    # added unless it is a wildcard address); any other Host gets a link to the first one.
    trusted_hosts: str = "127.0.0.1,localhost"
    # Peers allowed to set the client address and scheme with X-Forwarded-For/-Proto
    # (comma-separated IPs or CIDRs, "*" for any); empty trusts nobody.
    forwarded_allow_ips: str = ""
    # Callback destinations: https only unless allowed; host names and CIDRs (comma-separated)
    # that may receive callbacks even though they are private or loopback (an on-premise
    # LMS). Deliveries run concurrently: at most `callback_concurrency` at once and
    # `callback_concurrency_per_destination` to one host, so one slow receiver holds up only
    # its own deliveries; `callback_timeout_seconds` is the read timeout.
    callback_allow_http: bool = False
    callback_allowed_hosts: str = ""
    callback_connect_timeout_seconds: float = Field(default=3.0, gt=0)
    callback_concurrency: int = Field(default=8, ge=1)
    callback_concurrency_per_destination: int = Field(default=2, ge=1)

    # Learner data (README "Learner data"): submissions older than this many days are
    # deleted by the background worker, with their results, overrides and deliveries
    # (unset: kept until deleted); and the secret keying the learner-id hash in audit rows
    # (unset: deletions are audited by counts only, with no hash).
    retention_days: int | None = Field(default=None, ge=1)
    retention_batch_size: int = Field(default=500, ge=1)
    audit_hmac_key: SecretStr | None = None

    # Student feedback links stop working this many days after they were issued (410 Gone);
    # unset: they never expire. An instructor can revoke a link or issue a new one any time.
    feedback_link_ttl_days: float | None = Field(default=None, gt=0)

    # Pages (README "Pages"): a console session ends after this many idle minutes, and in any
    # case this many hours after sign-in. The secret signs the CSRF cookie; unset, the service
    # makes one and keeps it in the database, so every process shares it.
    session_idle_minutes: float = Field(default=60.0, gt=0)
    session_max_hours: float = Field(default=12.0, gt=0)
    session_secret: Annotated[SecretStr | None, Field(min_length=32)] = None
    # Origins allowed to embed every organisation's student pages (CSP frame-ancestors), on
    # top of each organisation's own list; comma-separated, e.g. https://moodle.example.edu.
    frame_ancestors: str = ""

    # LTI 1.3 (README "Connect your LMS"). The tool's signing keys are made by the service and
    # stored encrypted with this passphrase (unset: with a secret the service keeps in the
    # database, which protects nothing from someone who can read the database: set it in
    # production); or one key is read from a PEM file (rotated by replacing the file). The
    # platform's URLs (key set, token endpoint, line items) are fetched with the callbacks'
    # rules: https to public addresses, `callback_allow_http` and `callback_allowed_hosts`
    # for an on-premise LMS. A launch's answer page works for `lti_launch_minutes`.
    lti_key_passphrase: Annotated[SecretStr | None, Field(min_length=16)] = None
    lti_key_file: Path | None = None
    lti_launch_minutes: float = Field(default=120.0, gt=0)
    lti_registration_invite_hours: float = Field(default=72.0, gt=0)

    @field_validator("database_url", mode="after")
    @classmethod
    def _database_url_normalised(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("bootstrap_admin_key")
    @classmethod
    def _bootstrap_key_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_BOOTSTRAP_KEY_CHARS:
            raise ValueError(
                f"must be at least {MIN_BOOTSTRAP_KEY_CHARS} characters; make one with "
                "python3 -c 'import secrets; print(\"grk_\" + secrets.token_urlsafe(32))'"
            )
        return value

    @field_validator("callback_allowed_hosts")
    @classmethod
    def _allowed_hosts_parse(cls, value: str) -> str:
        parse_allowed(value)  # a malformed CIDR fails at start-up, not at the first delivery
        return value

    @field_validator("trusted_hosts")
    @classmethod
    def _hosts_are_names(cls, value: str) -> str:
        for host in split_list(value):
            if not (_HOST_NAME.match(host) or _is_ip_address(host)):
                raise ValueError(f"{host!r} is not a host name or IP address (no port, no *)")
        return value

    @property
    def trusted_host_names(self) -> tuple[str, ...]:
        """The trusted hosts in order, lower case, with the configured serve host."""
        names = [h.lower() for h in split_list(self.trusted_hosts)]
        host = self.host.strip("[]").lower()
        if host not in _WILDCARD_HOSTS and host not in names:
            names.append(host)
        return tuple(names)


class DebugFlag(BaseSettings):
    """GRADER_DEBUG alone, read before Settings: the command line must know whether to show
    a traceback even when the other settings are what failed."""

    model_config = SettingsConfigDict(env_prefix="GRADER_", extra="ignore")

    debug: bool = False


@lru_cache
def get_settings() -> Settings:
    return Settings()
