"""Environment configuration of the Bugsink component (``CHAOSLAB_BUGSINK_*``)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/chaoslab`` (``~/.cache/chaoslab`` when unset)."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "chaoslab"


class BugsinkSettings(BaseSettings):
    """Knobs read from the environment; explicit constructor arguments win."""

    model_config = SettingsConfigDict(env_prefix="CHAOSLAB_BUGSINK_", frozen=True)

    #: Where the venv and the migrated template live (shared by every stack).
    cache_dir: Path | None = None
    #: gunicorn worker processes (sync workers; digestion happens in the request).
    workers: int = 2

    def resolved_cache_dir(self) -> Path:
        return self.cache_dir if self.cache_dir is not None else default_cache_dir()
