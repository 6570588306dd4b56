"""A scenario YAML file run as tests: one real run, one item per expectation, verdicts in JUnit.

The scratch session collects ``chaoslab_quick.yaml``; its first item runs the
scenario once through the real runner (its own local stack, real load, a real
fault), and every item reports its own verdict. One expectation is met, one
cannot be (an exception type nothing raises), so the JUnit report shows a
pass with its ``time_to_detect_s`` and a failure with the engine's message.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

pytestmark = pytest.mark.integration

QUICK = """
name: quick-storm
title: A short exception storm
load: {users: 4, spawn_rate: 4, duration: 20s}
faults:
  - id: storm
    kind: app
    at: 4s
    duration: 10s
    switches: {exception_rate: 1.0, exception_type: QuickStormError}
expectations:
  - id: exceptions-counted
    kind: metric
    query: sum(app_exceptions_total{job="target",type="QuickStormError"})
    threshold: 0
    window: {fault: storm, within: 15s}
  - id: never-raised
    kind: metric
    query: sum(app_exceptions_total{job="target",type="NeverRaisedError"})
    threshold: 0
    window: {fault: storm, within: 5s}
"""


def test_each_expectation_is_a_test_with_its_verdict(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makefile(".yaml", chaoslab_quick=QUICK)
    out = pytester.path / "runs"

    result = pytester.runpytest("--junitxml=junit.xml", f"--chaoslab-out={out}", "-p", "no:locust")

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ never-raised (metric) _*",
            "never-raised: metric sum(app_exceptions_total{*NeverRaisedError*}) > 0 did not "
            "surface in its window",
            "  query:    sum(app_exceptions_total{*NeverRaisedError*})",
            "  observed: no series (the query returned nothing)",
        ]
    )
    cases = {
        case.get("name"): case
        # our own inner session's report, not untrusted input
        for case in ET.parse(pytester.path / "junit.xml").iter("testcase")  # noqa: S314
    }
    assert set(cases) == {"exceptions-counted", "never-raised"}
    passed = {p.get("name"): p.get("value") for p in cases["exceptions-counted"].iter("property")}
    failed = {p.get("name"): p.get("value") for p in cases["never-raised"].iter("property")}
    assert passed["kind"] == "metric"
    assert passed["status"] == "passed"
    assert 0 <= float(passed["time_to_detect_s"] or "nan") < 15
    assert failed["status"] == "failed"
    assert failed["time_to_detect_s"] == "None"
    assert passed["run_id"] == failed["run_id"]  # one run for both items
    assert (out / "chaoslab_quick" / "journal.json").is_file()
