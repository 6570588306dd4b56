"""The file Locust is pointed at: ``python -m locust -f loadtests/locustfile.py``.

Everything is configured through ``CHAOSLAB_*`` variables (see
:mod:`loadtests.config`); a malformed one fails start-up, so Locust exits at
once instead of running the wrong load.

SIGTERM: in Locust 2.47 a headless run with a shape class blocks on the shape
before Locust installs its own SIGTERM handler, so SIGTERM would kill the
process without writing its summary. The handler below stops the runner
instead; Locust then shuts down normally (final CSV and JSON written, exit 0)
and installs its own handler for the rest of the shutdown.
"""

from __future__ import annotations

import logging
import signal

import gevent  # type: ignore[import-untyped]  # no types-gevent in the lockfile
from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner

from loadtests import requestlog
from loadtests.shapes import ChaoslabShape
from loadtests.users import CONFIG, DocumentUser

__all__ = ["ChaoslabShape", "DocumentUser"]

log = logging.getLogger("loadtests")


def _stop_on_sigterm(environment: Environment) -> None:
    def stop() -> None:
        log.info("SIGTERM: stopping the load test")
        if environment.runner is not None:
            environment.runner.quit()

    gevent.signal_handler(signal.SIGTERM, stop)


@events.init.add_listener  # type: ignore[untyped-decorator]  # EventHook has no hints upstream
def _on_init(environment: Environment, **_: object) -> None:
    requestlog.install(environment, CONFIG.request_log_dir)
    if not isinstance(environment.runner, WorkerRunner):
        _stop_on_sigterm(environment)
