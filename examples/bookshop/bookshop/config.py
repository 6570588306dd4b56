"""Settings, read once from the environment at startup.

Plain ``os.environ`` parsing into a frozen dataclass: the bookshop is a small
stand-alone WSGI service and keeps its dependencies few. Every variable is
optional except ``BOOKSHOP_DATABASE_URL``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bookshop.exceptions import ConfigError

DEFAULT_PRICING_URL = "http://127.0.0.1:9001"
# sentry-sdk's default queue (100 events) drops most of an error storm.
DEFAULT_SENTRY_QUEUE_SIZE = 10_000


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment."""

    database_url: str
    pricing_url: str = DEFAULT_PRICING_URL
    pricing_timeout_s: float = 1.0
    db_timeout_s: float = 2.0
    pool_size: int = 5
    sentry_dsn: str = ""
    sentry_environment: str | None = None
    sentry_queue_size: int = DEFAULT_SENTRY_QUEUE_SIZE
    otlp_traces_endpoint: str = ""
    service_name: str = "bookshop"
    log_file: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``environ`` (default: the process environment)."""
        env = os.environ if environ is None else environ
        database_url = env.get("BOOKSHOP_DATABASE_URL", "").strip()
        if not database_url:
            raise ConfigError(
                "BOOKSHOP_DATABASE_URL is required, e.g. postgresql://postgres@127.0.0.1:5432/postgres"
            )
        log_file = env.get("BOOKSHOP_LOG_FILE", "").strip()
        return cls(
            database_url=database_url,
            pricing_url=env.get("BOOKSHOP_PRICING_URL", DEFAULT_PRICING_URL).rstrip("/"),
            pricing_timeout_s=_positive_float(env, "BOOKSHOP_PRICING_TIMEOUT_S", 1.0),
            db_timeout_s=_positive_float(env, "BOOKSHOP_DB_TIMEOUT_S", 2.0),
            pool_size=_positive_int(env, "BOOKSHOP_POOL_SIZE", 5),
            sentry_dsn=env.get("SENTRY_DSN", "").strip(),
            sentry_environment=env.get("SENTRY_ENVIRONMENT") or None,
            sentry_queue_size=_positive_int(
                env, "BOOKSHOP_SENTRY_QUEUE_SIZE", DEFAULT_SENTRY_QUEUE_SIZE
            ),
            otlp_traces_endpoint=env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip(),
            service_name=env.get("OTEL_SERVICE_NAME", "").strip() or "bookshop",
            log_file=Path(log_file) if log_file else None,
        )


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not value > 0:
        raise ConfigError(f"{name}={raw!r} must be greater than 0")
    return value


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if value < 1:
        raise ConfigError(f"{name}={raw!r} must be at least 1")
    return value
