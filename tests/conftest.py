"""Suite-wide hooks: how the xdist workers share the tests."""

from tests.xdist_scheduling import pytest_xdist_make_scheduler

__all__ = ["pytest_xdist_make_scheduler"]
