"""How ``make test`` shares the suite between its xdist workers.

The scenario tests run on a stack brought up by ``chaoslab up`` (a
package-scoped fixture, once per worker that runs any of them). Each stack
group below is one unit of work, so one worker runs the whole catalog on its
stack, another worker the rest of the scenario package on a second stack, and
every other test is its own unit, handed to whichever worker is free.

xdist's own ``--dist loadgroup`` cannot do this on pytest 9.2: it tags node
ids with ``@group`` through an attribute pytest no longer reads, so the marks
are silently ignored (pytest-dev/pytest-xdist#1386). A scheduler that names
the groups from the node id needs no tagging at all.
"""

from __future__ import annotations

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadScopeScheduling

# (node id prefix, group): the first prefix that matches wins.
STACK_GROUPS: tuple[tuple[str, str], ...] = (
    ("tests/integration/scenarios/test_catalog_runs.py::", "catalog"),
    ("tests/integration/scenarios/", "scenarios"),
)


class StackGroupScheduling(LoadScopeScheduling):
    """``--dist loadscope`` with the stack groups as the only scopes bigger than one test.

    Scopes are handed out largest first, so the two groups start at once, one
    on each worker.
    """

    def _split_scope(self, nodeid: str) -> str:
        return next((group for prefix, group in STACK_GROUPS if nodeid.startswith(prefix)), nodeid)


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(
    config: pytest.Config, log: Producer
) -> StackGroupScheduling | None:
    """Take over ``--dist loadscope``; any other ``--dist`` is xdist's own."""
    if config.getvalue("dist") != "loadscope":
        return None
    return StackGroupScheduling(config, log)
