"""Progress lines for the slow, one-off steps (venv build, first migration)."""

from __future__ import annotations

import sys
from collections.abc import Callable

from stack.bugsink.release import COMPONENT

Progress = Callable[[str], None]


def stderr_progress(message: str) -> None:
    """Default progress sink: one ``[bugsink] ...`` line on stderr, flushed."""
    print(f"[{COMPONENT}] {message}", file=sys.stderr, flush=True)


def silent(message: str) -> None:
    """A progress sink that says nothing."""
