"""Run Bugsink's Python code (``manage.py`` commands, ``create_conf``) in its venv.

Console scripts in ``<venv>/bin`` carry the absolute path of the directory the
venv was built in (a temporary name, see :mod:`stack.bugsink.atomic`), so
everything runs as ``<venv>/bin/python -m <module>`` instead. The child never
sees our ``PYTHONPATH`` or virtualenv variables: Bugsink's generic top-level
packages (``api``, ``events``, ``issues``...) and ours must not meet.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from stack.bugsink.release import COMPONENT
from stack.bugsink.venv import BugsinkVenv
from stack.exceptions import ComponentFailed
from stack.process import run

SETTINGS_MODULE = "bugsink_conf"
CONF_FILE = f"{SETTINGS_MODULE}.py"
_SCRUBBED = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "DJANGO_SETTINGS_MODULE", "PYTHONSTARTUP")


def bugsink_env(conf_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Our environment minus Python path variables, pointed at ``conf_dir/bugsink_conf.py``."""
    env = {key: value for key, value in os.environ.items() if key not in _SCRUBBED}
    env["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    env["PYTHONPATH"] = str(conf_dir)
    env["PYTHONUNBUFFERED"] = "1"
    if extra:
        env.update(extra)
    return env


def run_python_module(
    venv: BugsinkVenv,
    module: str,
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    what: str,
    timeout: float = 300.0,
) -> str:
    """Run ``python -m module args`` in the venv; return stdout or raise ComponentFailed."""
    argv = venv.module_argv(module, *args)
    try:
        result = run(
            argv,
            cwd=cwd,
            env=dict(env),
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise ComponentFailed(
            COMPONENT, f"{what} timed out after {timeout:.0f} s", argv, _indent(str(exc.output))
        ) from exc
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-4000:]
        raise ComponentFailed(
            COMPONENT, f"{what} exited with code {result.returncode}", argv, _indent(output)
        )
    return str(result.stdout)


def manage(
    venv: BugsinkVenv,
    conf_dir: Path,
    args: Sequence[str],
    *,
    what: str,
    extra_env: Mapping[str, str] | None = None,
    timeout: float = 300.0,
) -> str:
    """Run a Django management command against ``conf_dir/bugsink_conf.py``."""
    return run_python_module(
        venv,
        "bugsink.scripts.manage",
        args,
        cwd=conf_dir,
        env=bugsink_env(conf_dir, extra_env),
        what=what,
        timeout=timeout,
    )


def _indent(text: str) -> str:
    lines = text.rstrip("\n").splitlines()[-40:]
    return "\n".join(f"    {line}" for line in lines) or "    (no output)"
