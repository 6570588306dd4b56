"""The suite's xdist scheduler keeps each stack group on one worker, and starts both groups first.

A scratch tree with the suite's layout runs under two real xdist workers;
which worker ran which test is read from pytest's verbose report. The
control runs the same tree under ``--dist load``, which spreads the catalog
over both workers, so the check can tell the two apart.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

TESTS = """
import time
import pytest


@pytest.mark.parametrize("n", range({count}))
def test_{name}(n: int) -> None:
    time.sleep({seconds})
"""

LAYOUT = {
    "tests/integration/scenarios/test_catalog_runs.py": ("catalog", 4, 0.3),
    "tests/integration/scenarios/test_drills.py": ("drill", 4, 0.3),
    "tests/unit/test_quick.py": ("quick", 6, 0.05),
}

PASSED = re.compile(r"^\[(gw\d+)\] \[\s*\d+%\] PASSED (\S+)", re.M)


def run_tree(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, dist: str
) -> dict[str, list[str]]:
    """Worker id -> the node ids it ran, in the order they passed."""
    for path, (name, count, seconds) in LAYOUT.items():
        target = pytester.path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(TESTS.format(name=name, count=count, seconds=seconds))
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    result = pytester.runpytest_subprocess(
        "-p",
        "tests.xdist_scheduling",
        "-p",
        "no:cacheprovider",
        "-n",
        "2",
        "--dist",
        dist,
        "-v",
        timeout=120,
    )
    result.assert_outcomes(passed=14)
    ran: dict[str, list[str]] = defaultdict(list)
    for worker, nodeid in PASSED.findall(result.stdout.str()):
        ran[worker].append(nodeid)
    return ran


def workers_of(ran: dict[str, list[str]], module: str) -> set[str]:
    return {worker for worker, nodeids in ran.items() for nodeid in nodeids if module in nodeid}


def test_each_stack_group_runs_on_one_worker_and_both_start_first(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran = run_tree(pytester, monkeypatch, "loadscope")
    catalog, drills = workers_of(ran, "test_catalog_runs.py"), workers_of(ran, "test_drills.py")
    assert len(catalog) == 1, ran
    assert len(drills) == 1, ran
    assert catalog != drills, ran
    firsts = {nodeids[0].split("::")[0].rsplit("/", 1)[-1] for nodeids in ran.values()}
    assert firsts == {"test_catalog_runs.py", "test_drills.py"}, ran


def test_control_plain_load_spreads_the_catalog_over_both_workers(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran = run_tree(pytester, monkeypatch, "load")
    assert len(workers_of(ran, "test_catalog_runs.py")) == 2, ran
