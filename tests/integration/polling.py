"""Waiting, in tests, for what a server records after it has answered."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def eventually(
    probe: Callable[[], T | None],
    timeout: float = 15.0,
    what: str = "the probe to find it",
    interval: float = 0.2,
) -> T:
    """Poll ``probe`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def settled(
    probe: Callable[[], T], done: Callable[[T], bool], timeout: float = 15.0, interval: float = 0.2
) -> T:
    """Poll ``probe`` until ``done`` accepts its value; the last value either way, to assert on."""
    deadline = time.monotonic() + timeout
    value = probe()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(interval)
        value = probe()
    return value
