"""Settings from environment variables (prefix ``GRADER_``); the only place env is read."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
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


@lru_cache
def get_settings() -> Settings:
    return Settings()
