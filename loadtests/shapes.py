"""The Locust load shape: the curve ``CHAOSLAB_SHAPE`` selects, always bounded.

Locust uses the first ``LoadTestShape`` it finds in the locustfile, so there
is exactly one here; the per-kind logic lives in :mod:`loadtests.curves`.
Whatever the curve says, the run stops (``tick`` returns None) once
``CHAOSLAB_DURATION_S`` has passed or ``CHAOSLAB_MAX_REQUESTS`` requests were
made. In distributed mode the shape runs on the master, whose request count
lags the workers' by their report interval (about 3 s).
"""

from __future__ import annotations

from locust import LoadTestShape

from loadtests.config import LoadConfig
from loadtests.curves import Curve, build_curve


class ChaoslabShape(LoadTestShape):
    """Steady, ramp, spike or replay, read from the environment at start-up."""

    def __init__(self, config: LoadConfig | None = None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # LoadTestShape.__init__ lacks hints
        self.config = LoadConfig.from_env() if config is None else config
        self.curve: Curve = build_curve(self.config)

    def requests_made(self) -> int:
        if self.runner is None:
            return 0
        count: int = self.runner.stats.total.num_requests
        return count

    def tick(self) -> tuple[int, float] | None:
        run_time: float = self.get_run_time()  # type: ignore[no-untyped-call]  # no hints upstream
        if run_time >= self.config.duration_s:
            return None
        if self.requests_made() >= self.config.max_requests:
            return None
        step = self.curve.at(run_time)
        if step is None:
            return None
        return step.users, step.spawn_rate
