"""Bugsink, the lab's Sentry-compatible backend, run from its own cached venv.

Public API::

    with BugsinkServer(state_dir) as bugsink:
        sentry_sdk.init(dsn=bugsink.dsn, ...)

It is read through the lab's one Bugsink client, which lives with the other
signal clients (``stack`` itself never reads issues)::

    from assertions import BugsinkClient

    with BugsinkClient(bugsink.url, bugsink.api_token, bugsink.project_id) as sentry:
        sentry.issues(tags={"run_id": run_id})
"""

from stack.bugsink.provisioning import Provisioning
from stack.bugsink.release import BUGSINK_VERSION
from stack.bugsink.server import BugsinkServer, StartTimings
from stack.bugsink.settings import BugsinkSettings, default_cache_dir
from stack.bugsink.template import MigratedTemplate, ensure_template
from stack.bugsink.venv import BugsinkVenv, ensure_venv

__all__ = [
    "BUGSINK_VERSION",
    "BugsinkServer",
    "BugsinkSettings",
    "BugsinkVenv",
    "MigratedTemplate",
    "Provisioning",
    "StartTimings",
    "default_cache_dir",
    "ensure_template",
    "ensure_venv",
]
