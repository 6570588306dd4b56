"""Bugsink's private virtualenv, built once per version in the cache dir.

Bugsink installs generic top-level packages (``api``, ``events``, ``issues``,
``projects``...) that would shadow ours, so it never goes into the project
venv: ``python -m venv`` + ``pip install bugsink==<pinned>`` into
``<cache>/bugsink-venv-<version>``, built under a temporary name and renamed
into place (see :mod:`stack.bugsink.atomic`). Later calls reuse it.
"""

from __future__ import annotations

import collections
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from stack.bugsink.atomic import build_once
from stack.bugsink.progress import Progress, stderr_progress
from stack.bugsink.release import BUGSINK_VERSION, COMPONENT
from stack.bugsink.settings import BugsinkSettings
from stack.exceptions import ComponentFailed
from stack.process import child_env, run

PIP_TIMEOUT_S = 1200.0
#: pip output lines worth echoing as progress; every line is kept for errors.
_PROGRESS_PREFIXES = ("Collecting ", "Downloading ", "Installing ", "Successfully ", "ERROR")


@dataclass(frozen=True)
class BugsinkVenv:
    """A complete venv with ``bugsink==version`` installed."""

    root: Path
    version: str

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def module_argv(self, module: str, *args: str) -> list[str]:
        return [str(self.python), "-m", module, *args]


def venv_dir(cache_dir: Path, version: str = BUGSINK_VERSION) -> Path:
    return cache_dir / f"bugsink-venv-{version}"


def ensure_venv(
    cache_dir: Path | None = None,
    version: str = BUGSINK_VERSION,
    *,
    base_python: str = sys.executable,
    progress: Progress = stderr_progress,
) -> BugsinkVenv:
    """Return the venv for ``version``, building it first if it is not cached.

    Safe to call from several processes at once; only one of them builds.
    """
    cache = cache_dir if cache_dir is not None else BugsinkSettings().resolved_cache_dir()
    final = venv_dir(cache, version)
    started = time.monotonic()

    def build(scratch: Path) -> None:
        progress(f"building a venv for bugsink=={version} in {final} (first use; takes a while)")
        _run_streaming([base_python, "-m", "venv", str(scratch)], progress, "venv creation")
        pip = [
            str(scratch / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--progress-bar",
            "off",
            f"bugsink=={version}",
        ]
        _run_streaming(pip, progress, "pip install")
        _check_version(scratch, version)

    if build_once(final, build):
        progress(f"venv ready in {time.monotonic() - started:.1f} s")
    return BugsinkVenv(root=final, version=version)


def _run_streaming(argv: list[str], progress: Progress, what: str) -> None:
    kept: collections.deque[str] = collections.deque(maxlen=40)
    with subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=child_env(),
    ) as proc:
        deadline = time.monotonic() + PIP_TIMEOUT_S
        for raw in proc.stdout or ():  # never None: stdout=PIPE above
            line = raw.rstrip()
            kept.append(line)
            if line.startswith(_PROGRESS_PREFIXES):
                progress(f"  {line}")
            if time.monotonic() > deadline:
                proc.kill()
                break
        code = proc.wait()
    if code != 0:
        tail = "\n".join(f"    {line}" for line in kept) or "    (no output)"
        raise ComponentFailed(COMPONENT, f"{what} exited with code {code}", argv, tail)


def _check_version(root: Path, version: str) -> None:
    argv = [str(root / "bin" / "python"), "-c", "import bugsink.version as v; print(v.version)"]
    result = run(argv, capture_output=True, text=True, check=False, timeout=60)
    found = result.stdout.strip()
    if result.returncode != 0 or found != version:
        output = (result.stdout + result.stderr)[-2000:] or "(no output)"
        raise ComponentFailed(
            COMPONENT,
            f"installed bugsink reports version {found!r}, wanted {version}",
            argv,
            output,
        )
