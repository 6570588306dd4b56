"""The real ``chaos`` command in a venv of its own, built once in the lab's cache dir.

Chaos Toolkit and its drivers are not dependencies of the lab (the importer
only reads their experiments), so the side-by-side test installs them apart:
``uv venv`` + ``uv pip install`` of the pinned versions into
``<cache>/chaostoolkit-venv-<pins digest>``, under a lock, marked complete
last; later calls reuse it. ``uv`` is the one running the tests (``$UV``), or
the one on ``PATH``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from stack.bugsink.settings import default_cache_dir

PINS = (
    "chaostoolkit==1.19.0",
    "chaostoolkit-lib[jsonpath]==1.44.0",
    "chaostoolkit-toxiproxy==0.3.1",
    "chaostoolkit-prometheus==0.6.0",
)
COMPLETE = ".complete"


def _uv() -> list[str]:
    found = os.environ.get("UV") or shutil.which("uv")
    if found is None and (Path.home() / ".local" / "bin" / "uv").is_file():
        found = str(Path.home() / ".local" / "bin" / "uv")
    return [found] if found is not None else [sys.executable, "-m", "uv"]


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr[-3000:]}")


def ensure_chaos(cache_dir: Path | None = None) -> Path:
    """The ``chaos`` executable of the venv, building the venv first when it is not complete."""
    digest = hashlib.sha256("\n".join(PINS).encode()).hexdigest()[:12]
    root = (cache_dir or default_cache_dir()) / f"chaostoolkit-venv-{digest}"
    chaos = root / "bin" / "chaos"
    if (root / COMPLETE).is_file():
        return chaos
    root.parent.mkdir(parents=True, exist_ok=True)
    with (root.parent / f"{root.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / COMPLETE).is_file():
            shutil.rmtree(root, ignore_errors=True)
            uv = _uv()
            _run([*uv, "venv", "--quiet", "--python", sys.executable, str(root)])
            _run(
                [*uv, "pip", "install", "--quiet", "--python", str(root / "bin" / "python"), *PINS]
            )
            (root / COMPLETE).write_text("\n".join(PINS) + "\n")
    return chaos


__all__ = ["PINS", "ensure_chaos"]
