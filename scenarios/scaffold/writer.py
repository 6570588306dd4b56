"""Writing the files: checked by the loaders of ``chaoslab validate``, then each renamed into place.

An existing file is only replaced with ``force``; a file that does not
validate is never written.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from scenarios.exceptions import ScenarioInvalid
from scenarios.loader import load
from scenarios.profiles import load_profile
from scenarios.scaffold.documents import PROFILE_FILE
from scenarios.scaffold.errors import InitError


def write_files(out_dir: Path, texts: Mapping[str, str], *, force: bool) -> list[Path]:
    """Write ``texts`` into ``out_dir`` once they validate, each by an atomic rename.

    Raises :class:`InitError` when a file exists (and not ``force``) or a file
    does not validate, and ``OSError`` when the folder cannot be written.
    """
    targets = [out_dir / name for name in texts]
    existing = [path for path in targets if path.exists()]
    if existing and not force:
        raise InitError(
            f"{', '.join(map(str, existing))} already exist"
            f"{'s' if len(existing) == 1 else ''}: --force replaces them"
        )
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".chaoslab-init-", dir=out_dir))
    try:
        for name, text in texts.items():
            (staging / name).write_text(text)
        _validate(staging, list(texts))
        for name in texts:
            os.replace(staging / name, out_dir / name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            with contextlib.suppress(OSError):
                out_dir.rmdir()
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return targets


def _validate(folder: Path, names: Sequence[str]) -> None:
    """Check the staged files as ``chaoslab validate`` would."""
    try:
        for name in names:
            path = folder / name
            if name == PROFILE_FILE:
                load_profile(path)
            else:
                load(path)
    except ScenarioInvalid as exc:
        problems = "\n  ".join(p.message for p in exc.problems)
        raise InitError(
            f"the files init wrote do not validate (a bug of init):\n  {problems}"
        ) from exc
