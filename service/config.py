"""Settings from environment variables (prefix ``GRADER_``); the only place env is read."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRADER_", extra="ignore")

    database_url: str = "sqlite:///./data/grader.db"
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
    # GET /metrics (Prometheus); with a token set, scrapers must send "Bearer <token>".
    metrics_enabled: bool = True
    metrics_token: SecretStr | None = None


@lru_cache
def get_settings() -> Settings:
    return Settings()
