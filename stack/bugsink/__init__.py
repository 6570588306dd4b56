"""Bugsink, the lab's Sentry-compatible backend, run from its own cached venv.

Public API::

    with BugsinkServer(state_dir) as bugsink:
        sentry_sdk.init(dsn=bugsink.dsn, ...)
        api = CanonicalApi(bugsink.url, bugsink.api_token)
        api.issues(bugsink.project_id, query="run_id:...")
"""

from stack.bugsink.api import (
    CanonicalApi,
    EventDetail,
    EventSummary,
    Issue,
    IssueTag,
    SentryEventData,
)
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
    "CanonicalApi",
    "EventDetail",
    "EventSummary",
    "Issue",
    "IssueTag",
    "MigratedTemplate",
    "Provisioning",
    "SentryEventData",
    "StartTimings",
    "default_cache_dir",
    "ensure_template",
    "ensure_venv",
]
