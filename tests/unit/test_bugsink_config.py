"""The overrides appended to Bugsink's generated configuration, and small models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stack.bugsink.config import INGEST_QUOTA, overrides
from stack.bugsink.provisioning import Provisioning
from stack.bugsink.release import BUGSINK_VERSION
from stack.bugsink.template import template_dir
from stack.bugsink.venv import venv_dir

QUOTA_KEYS = {
    f"MAX_EVENTS_PER_{scope}{period}"
    for scope in ("", "PROJECT_PER_")
    for period in ("5_MINUTES", "HOUR", "MONTH")
}


def apply_overrides(data_dir: Path, port: int) -> dict[str, Any]:
    """Execute the override text on top of the shape the local template leaves behind."""
    namespace: dict[str, Any] = {
        "DATABASES": {
            "default": {"NAME": "db.sqlite3", "TEST": {"NAME": "test.sqlite3"}, "OPTIONS": {}},
            "snappea": {"NAME": "snappea.sqlite3", "OPTIONS": {}},
        },
        "ALLOWED_HOSTS": ["*"],
        "SNAPPEA": {"TASK_ALWAYS_EAGER": True},
        "BUGSINK": {"BASE_URL": "http://localhost:8000", "SINGLE_USER": True},
    }
    exec(compile(overrides(data_dir, port), "bugsink_conf.py", "exec"), namespace)  # noqa: S102 - generated config is Python by design
    return namespace


def test_overrides_keep_everything_local_eager_and_unthrottled(tmp_path: Path) -> None:
    conf = apply_overrides(tmp_path / "da'ta", 4321)
    assert conf["DATABASES"]["default"]["NAME"] == str(tmp_path / "da'ta" / "db.sqlite3")
    assert conf["DATABASES"]["snappea"]["NAME"] == str(tmp_path / "da'ta" / "snappea.sqlite3")
    assert conf["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost"]
    assert conf["SNAPPEA"]["TASK_ALWAYS_EAGER"] is True
    bugsink = conf["BUGSINK"]
    assert bugsink["BASE_URL"] == "http://127.0.0.1:4321"
    assert bugsink["PHONEHOME"] is False
    assert bugsink["SINGLE_USER"] is True, "template settings are extended, not replaced"
    assert bugsink["INGEST_STORE_BASE_DIR"].startswith(str(tmp_path))
    assert {key: bugsink[key] for key in QUOTA_KEYS} == dict.fromkeys(QUOTA_KEYS, INGEST_QUOTA)


def test_dsn_has_bugsink_shape() -> None:
    provisioning = Provisioning(
        admin_email="a@b.invalid",
        admin_password="pw",
        team_id="t",
        team_name="chaoslab",
        project_id=7,
        project_slug="target",
        sentry_key="0123456789abcdef0123456789abcdef",
        token_id=1,
    )
    assert provisioning.dsn(9000) == "http://0123456789abcdef0123456789abcdef@127.0.0.1:9000/7"


def test_cache_entries_are_keyed_by_version(tmp_path: Path) -> None:
    assert venv_dir(tmp_path) == tmp_path / f"bugsink-venv-{BUGSINK_VERSION}"
    assert venv_dir(tmp_path, "9.9.9") != venv_dir(tmp_path)
    assert template_dir(tmp_path, "9.9.9") != template_dir(tmp_path, BUGSINK_VERSION)
