"""Build a cache directory once, even when several processes race for it.

The directory is built under a temporary name next to its final one and
renamed into place when complete, so a crash never leaves a half-built
directory under the final name. An advisory lock (``flock``) on a sibling
``.lock`` file makes concurrent callers wait for the first builder instead of
all doing the same minutes-long work; if the lock does not hold (e.g. on a
network file system) the rename still lets exactly one build win.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

COMPLETE_MARKER = ".complete"


def is_complete(directory: Path) -> bool:
    """True when ``directory`` was renamed into place by :func:`build_once`."""
    return (directory / COMPLETE_MARKER).is_file()


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_once(final: Path, build: Callable[[Path], None]) -> bool:
    """Make sure ``final`` exists and is complete; return True if this call built it.

    ``build`` receives an empty temporary directory on the same file system and
    fills it; it is renamed to ``final`` afterwards. If ``build`` raises, the
    temporary directory is removed and the error propagates.
    """
    if is_complete(final):
        return False
    final.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(final.with_name(final.name + ".lock")):
        if is_complete(final):
            return False
        if final.exists():
            # Not ours and not complete (e.g. edited by hand): replace it.
            shutil.rmtree(final)
        scratch = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
        try:
            build(scratch)
            (scratch / COMPLETE_MARKER).write_text("ok\n")
            try:
                os.rename(scratch, final)
            except OSError:
                if not is_complete(final):
                    raise
                shutil.rmtree(scratch, ignore_errors=True)  # another builder won the race
                return False
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
    return True
