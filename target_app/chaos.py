"""Fault switches: app-level faults the lab turns on and off at run time.

Driven through the admin API (``routes/admin.py``), which exists only when
``TARGET_CHAOS_TOKEN`` is set. Every switch is off by default; ``reset``
turns them all off and frees grown memory.
"""

from __future__ import annotations

import random
import re
import time

from pydantic import BaseModel, ConfigDict, Field, field_validator

from target_app.exceptions import ChaosError

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class ChaosSwitches(BaseModel):
    """The fault switches' settings; a PATCH changes only the fields it names."""

    model_config = ConfigDict(extra="forbid")

    exception_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    exception_type: str = Field(default="ChaosInjectedError")
    exception_message: str = Field(default="injected failure", max_length=500)
    cpu_burn_ms: float = Field(default=0.0, ge=0.0, le=10_000)
    memory_growth_kb: int = Field(default=0, ge=0, le=100_000)
    memory_limit_mb: int = Field(default=512, ge=1, le=16_384)
    slow_query_s: float = Field(default=0.0, ge=0.0, le=120.0)
    slow_query_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    pool_max: int | None = Field(default=None, ge=1, le=500)

    @field_validator("exception_type")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not IDENTIFIER.match(value):
            raise ValueError("must be a Python identifier such as ValueError or PaymentFailed")
        return value


class ChaosState(BaseModel):
    """What the admin API reports: the switches plus effects so far."""

    switches: ChaosSwitches
    memory_held_mb: float
    exceptions_raised: int


class Chaos:
    """The live switches and their effects."""

    def __init__(self, seed: int | None = None) -> None:
        self.switches = ChaosSwitches()
        self._rng = random.Random(seed)  # noqa: S311 - fault rolls, not cryptography
        self._hoard: list[bytearray] = []
        self._hoard_bytes = 0
        self._types: dict[str, type[ChaosError]] = {}
        self.exceptions_raised = 0

    def state(self) -> ChaosState:
        return ChaosState(
            switches=self.switches,
            memory_held_mb=round(self._hoard_bytes / 2**20, 3),
            exceptions_raised=self.exceptions_raised,
        )

    def apply(self, switches: ChaosSwitches) -> None:
        self.switches = switches

    def reset(self) -> None:
        self.switches = ChaosSwitches()
        self._hoard.clear()
        self._hoard_bytes = 0

    def exception_class(self, name: str) -> type[ChaosError]:
        """A ChaosError subclass with the requested name, made once and reused."""
        if name not in self._types:
            self._types[name] = type(name, (ChaosError,), {"__module__": "target_app.chaos"})
        return self._types[name]

    def on_request(self) -> None:
        """Apply the per-request faults: CPU burn, memory growth, exception roll."""
        switches = self.switches
        if switches.cpu_burn_ms > 0:
            deadline = time.perf_counter() + switches.cpu_burn_ms / 1000
            while time.perf_counter() < deadline:
                sum(i * i for i in range(500))
        if switches.memory_growth_kb > 0:
            limit = switches.memory_limit_mb * 2**20
            size = switches.memory_growth_kb * 1024
            if self._hoard_bytes + size <= limit:
                chunk = bytearray(size)
                chunk[::4096] = b"x" * len(chunk[::4096])  # touch every page: real RSS
                self._hoard.append(chunk)
                self._hoard_bytes += size
        if switches.exception_rate > 0 and self._rng.random() < switches.exception_rate:
            self.exceptions_raised += 1
            raise self.exception_class(switches.exception_type)(switches.exception_message)

    def slow_query_seconds(self) -> float:
        """Seconds of ``pg_sleep`` to add to this request's database work (0 = none)."""
        switches = self.switches
        if switches.slow_query_s <= 0:
            return 0.0
        if switches.slow_query_rate < 1.0 and self._rng.random() >= switches.slow_query_rate:
            return 0.0
        return switches.slow_query_s
