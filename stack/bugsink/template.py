"""A migrated, provisioned pair of SQLite databases, cached per Bugsink version.

Migrating a fresh Bugsink database takes seconds; copying one does not. The
first start builds ``<cache>/bugsink-template-<version>-f<format>/`` (a
throwaway config, ``migrate``, ``migrate snappea --database=snappea``, then
:func:`~stack.bugsink.provisioning.provision`) and every start copies its
databases into the state dir. A new Bugsink version or provisioning format
gets a new directory, so stale templates are never used.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from stack.bugsink.atomic import build_once
from stack.bugsink.config import DB_FILE, SNAPPEA_DB_FILE, write_config
from stack.bugsink.manage import manage
from stack.bugsink.progress import Progress, stderr_progress
from stack.bugsink.provisioning import Provisioning, provision
from stack.bugsink.release import TEMPLATE_FORMAT
from stack.bugsink.venv import BugsinkVenv

PROVISIONING_FILE = "provisioning.json"
DB_FILES = (DB_FILE, SNAPPEA_DB_FILE)
#: BASE_URL port baked into the throwaway config; nothing stored depends on it.
_TEMPLATE_PORT = 8000


@dataclass(frozen=True)
class MigratedTemplate:
    """The cached databases and what provisioning created in them."""

    root: Path
    provisioning: Provisioning

    def copy_to(self, data_dir: Path) -> None:
        """Replace the databases in ``data_dir`` with fresh copies of the template."""
        data_dir.mkdir(parents=True, exist_ok=True)
        for name in DB_FILES:
            for stale in data_dir.glob(f"{name}*"):  # includes -journal / -wal leftovers
                stale.unlink()
            shutil.copyfile(self.root / name, data_dir / name)


def template_dir(cache_dir: Path, version: str) -> Path:
    return cache_dir / f"bugsink-template-{version}-f{TEMPLATE_FORMAT}"


def ensure_template(
    venv: BugsinkVenv, cache_dir: Path, *, progress: Progress = stderr_progress
) -> MigratedTemplate:
    """Return the template for ``venv``'s version, migrating and provisioning it if needed."""
    final = template_dir(cache_dir, venv.version)
    started = time.monotonic()

    def build(scratch: Path) -> None:
        progress(f"migrating a template database into {final} (first use)")
        with tempfile.TemporaryDirectory(prefix="chaoslab-bugsink-conf-") as conf:
            conf_dir = Path(conf)
            write_config(venv, conf_dir, scratch, _TEMPLATE_PORT)
            manage(venv, conf_dir, ["migrate", "--noinput"], what="migrate")
            manage(
                venv,
                conf_dir,
                ["migrate", "snappea", "--database=snappea", "--noinput"],
                what="migrate snappea",
            )
            provisioned = provision(venv, conf_dir)
        for leftover in ("ingestion", "snappea-wakeup"):
            shutil.rmtree(scratch / leftover, ignore_errors=True)
        record = scratch / PROVISIONING_FILE
        record.touch(mode=0o600)  # holds the admin password
        record.write_text(provisioned.model_dump_json(indent=2))

    if build_once(final, build):
        progress(f"template ready in {time.monotonic() - started:.1f} s")
    provisioning = Provisioning.model_validate_json((final / PROVISIONING_FILE).read_text())
    return MigratedTemplate(root=final, provisioning=provisioning)
