"""Service configuration from the environment (prefix ``TARGET_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the document service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="TARGET_", extra="ignore")

    service_name: str = "target"
    dsn: str = "postgresql://postgres@127.0.0.1:5432/chaoslab"
    pool_min: int = Field(default=2, ge=0)
    pool_max: int = Field(default=10, ge=1, le=500)
    pool_acquire_timeout_s: float = Field(default=30.0, gt=0)
    statement_timeout_ms: int = Field(default=30_000, ge=0)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    downstream_url: str = "http://127.0.0.1:8001"
    downstream_timeout_s: float = Field(default=2.0, gt=0)
    otlp_endpoint: str | None = None
    sentry_dsn: str | None = None
    sentry_queue_size: int = Field(default=10_000, ge=100)
    environment: str = "local"
    release: str = "target@0.1.0"
    sampling_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    log_file: Path | None = None
    log_level: str = "INFO"
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    health_check_timeout_s: float = Field(default=2.0, gt=0)
    chaos_token: str | None = None
    chaos_seed: int | None = None


class ClassifierSettings(BaseSettings):
    """The downstream classifier's knobs (prefix ``CLASSIFIER_``)."""

    model_config = SettingsConfigDict(env_prefix="CLASSIFIER_", extra="ignore")

    service_name: str = "classifier"
    latency_ms: float = Field(default=5.0, ge=0)
    jitter_ms: float = Field(default=0.0, ge=0)
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    otlp_endpoint: str | None = None
    environment: str = "local"
    release: str = "classifier@0.1.0"
    sampling_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    log_file: Path | None = None
    log_level: str = "INFO"
    seed: int | None = None
