"""The plugin's ``lab`` fixture against a running stack passed as ``--chaoslab-stack=STATE_DIR``.

This module starts a real local stack, then runs a scratch pytest session
(``pytester``) that reuses it: the inner tests reach the stack through
``lab``, pass and fail with real verdicts, and the stack outlives the inner
session (the plugin never stops a stack it did not start).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from stack.local import LocalStack, component_healthy
from stack.state import read_state

pytestmark = pytest.mark.integration

INNER = """
from assertions.engine import Verdict
from assertions.exceptions import ExpectationFailed
from assertions.lab import Lab
from assertions.expectations import HealthExpectation


def test_lab_reaches_the_running_stack(lab: Lab) -> None:
    assert lab.endpoints.target_url == "{target_url}"
    assert lab.health.liveness().healthy
    assert [point.value for point in lab.prometheus.query("vector(1)").points()] == [1.0]


def test_expect_passes_with_a_time_to_detect(lab: Lab) -> None:
    verdict = lab.expect(HealthExpectation(id="live", probe="liveness", status=200))
    assert isinstance(verdict, Verdict)
    assert verdict.status == "passed"
    assert verdict.time_to_detect_s is not None


def test_expect_raises_with_the_message(lab: Lab) -> None:
    lab.expect(
        {{
            "id": "never-down",
            "kind": "health",
            "probe": "readiness",
            "status": 503,
            "window": {{"within": "2s"}},
        }}
    )
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(tmp_path_factory.mktemp("plugin-lab") / "state") as running:
        yield running


def test_lab_fixture_uses_a_running_stack_and_leaves_it_up(
    pytester: pytest.Pytester, stack: LocalStack
) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_inner=INNER.format(target_url=stack.endpoints.target_url))

    result = pytester.runpytest(f"--chaoslab-stack={stack.state_dir}")

    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "E*ExpectationFailed: never-down: /readiness answers 503 did not surface*",
            "*query:    GET /readiness",
            "*observed: /readiness answered 200",
        ]
    )
    state = read_state(stack.state_dir)
    assert state is not None
    assert component_healthy("target", state.components["target"])
    assert httpx.get(stack.endpoints.target_url + "/liveness").status_code == 200
