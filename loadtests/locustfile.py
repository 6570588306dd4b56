"""The lab's hooks, loaded before the user classes: ``-f loadtests/locustfile.py,USERS.py``.

``USERS.py`` is the target profile's Locust file (``loadtests/users.py`` for
the bundled document service, a team's own file for theirs, or
``loadtests/mix.py`` for a request mix declared in the profile). Whatever its
user classes are, this file, through Locust's event hooks only:

* writes one CSV line per request (:mod:`loadtests.requestlog`);
* sends ``X-Chaoslab-Run: <run id>`` on every request of every HTTP user;
* bounds the run with :class:`~loadtests.shapes.ChaoslabShape` (its duration
  and request cap), whatever the users do.

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
from locust.clients import HttpSession
from locust.env import Environment
from locust.runners import WorkerRunner

from loadtests import requestlog
from loadtests.config import LoadConfig
from loadtests.shapes import ChaoslabShape

__all__ = ["ChaoslabShape"]

CONFIG = LoadConfig.from_env()
RUN_HEADER = "X-Chaoslab-Run"

log = logging.getLogger("loadtests")


def _stop_on_sigterm(environment: Environment) -> None:
    def stop() -> None:
        log.info("SIGTERM: stopping the load test")
        if environment.runner is not None:
            environment.runner.quit()

    gevent.signal_handler(signal.SIGTERM, stop)


def _send_run_header(environment: Environment) -> None:
    """Every HTTP session any user class opens sends the run id (its own headers kept)."""
    del environment
    original = HttpSession.__init__
    if getattr(original, "_chaoslab", False):
        return

    def init(self: HttpSession, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]  # passed through as given
        self.headers.setdefault(RUN_HEADER, CONFIG.run_id)

    init._chaoslab = True  # type: ignore[attr-defined]  # marks the hook as installed
    HttpSession.__init__ = init  # type: ignore[method-assign]  # Locust offers no request hook


@events.init.add_listener  # type: ignore[untyped-decorator]  # EventHook has no hints upstream
def _on_init(environment: Environment, **_: object) -> None:
    requestlog.install(environment, CONFIG.request_log_dir, CONFIG.worker)
    _send_run_header(environment)
    if not isinstance(environment.runner, WorkerRunner):
        _stop_on_sigterm(environment)
