"""The chaoslab pytest plugin without a stack: options, marker, scenario files as test items.

Every test runs pytest in a scratch directory with ``pytester``; the plugin
is loaded from its ``pytest11`` entry point, as it is for a user.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from scenarios.loader import CATALOG_DIR

STORM = """
name: quick-storm
title: A short exception storm
load: {users: 2, duration: 10s}
faults:
  - {id: storm, kind: app, at: 2s, duration: 5s, switches: {exception_rate: 1.0}}
expectations:
  - id: exceptions-counted
    kind: metric
    query: sum(app_exceptions_total{job="target"})
    threshold: 0
    window: {fault: storm, within: 10s}
  - id: storm-alert
    kind: alert
    alert: ExceptionStorm
    window: {fault: storm, within: 30s}
  - id: error-logs
    kind: log
    event: request.error
    window: {fault: storm, within: 10s}
"""

EXPECTED_IDS = ["exceptions-counted", "storm-alert", "error-logs"]


INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


@pytest.fixture(autouse=True)
def ini(pytester: pytest.Pytester) -> None:
    """The scratch project's ini (pytest-asyncio asks for its loop scope)."""
    pytester.makeini(INI)


def collected(result: pytest.RunResult) -> list[str]:
    """Node ids printed by ``--collect-only -q``."""
    return [line for line in result.outlines if "::" in line]


def test_options_are_registered_in_their_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")

    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "chaoslab: chaos scenarios and signal expectations:",
            "*--chaoslab-stack=local|compose|STATE_DIR*",
            "*--chaoslab-keep-stack*",
            "*--chaoslab-scenarios*",
            "*--chaoslab-control*",
            "*--chaoslab-seed=N*",
            "*--chaoslab-out=DIR*",
        ]
    )
    result.stdout.fnmatch_lines(["*chaoslab_stack (string)*", "*chaoslab_scenarios (bool)*"])


def test_marker_is_registered_for_strict_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.chaoslab_scenario("exception-storm")
        def test_bound(request):
            marker = request.node.get_closest_marker("chaoslab_scenario")
            assert marker.args == ("exception-storm",)
        """
    )

    listed = pytester.runpytest("--markers")
    result = pytester.runpytest("--strict-markers")

    listed.stdout.fnmatch_lines(["@pytest.mark.chaoslab_scenario(name):*"])
    result.assert_outcomes(passed=1)


def test_a_chaoslab_file_is_one_item_per_expectation(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", chaoslab_storm=STORM)

    result = pytester.runpytest("--collect-only", "-q")

    assert result.ret == pytest.ExitCode.OK
    assert collected(result) == [f"chaoslab_storm.yaml::{id_}" for id_ in EXPECTED_IDS]


def test_other_scenario_files_need_the_opt_in(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", storm=STORM)
    pytester.makefile(".yml", settings="retries: 3\nexpectations_doc: not a scenario\n")

    default = pytester.runpytest("--collect-only", "-q")
    flag = pytester.runpytest("--collect-only", "-q", "--chaoslab-scenarios")
    pytester.makeini(INI + "chaoslab_scenarios = true\n")
    ini = pytester.runpytest("--collect-only", "-q")

    assert default.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert collected(default) == []
    assert collected(flag) == [f"storm.yaml::{id_}" for id_ in EXPECTED_IDS]
    assert collected(ini) == collected(flag)


def test_the_catalog_collects_every_expectation(pytester: pytest.Pytester) -> None:
    catalog = pytester.mkdir("catalog")
    expected: list[str] = []
    for path in sorted(CATALOG_DIR.glob("*.yaml")):
        shutil.copy(path, catalog / path.name)
        ids = [str(e["id"]) for e in yaml.safe_load(path.read_text())["expectations"]]
        expected += [f"catalog/{path.name}::{id_}" for id_ in ids]

    result = pytester.runpytest("--collect-only", "-q", "--chaoslab-scenarios", "catalog")

    assert len(expected) > len(list(CATALOG_DIR.glob("*.yaml")))
    assert collected(result) == expected


def test_items_carry_the_scenario_marker(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", chaoslab_storm=STORM)

    result = pytester.runpytest("--collect-only", "-q", "-m", "chaoslab_scenario")

    assert len(collected(result)) == len(EXPECTED_IDS)


def test_an_invalid_expectation_is_a_collection_error_naming_it(
    pytester: pytest.Pytester,
) -> None:
    broken = STORM.replace("threshold: 0\n", "threshold: lots\n")
    pytester.makefile(".yaml", chaoslab_broken=broken)

    result = pytester.runpytest("--collect-only", "-q")

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting chaoslab_broken.yaml*",
            "chaoslab_broken.yaml:10: expectations.0.metric.threshold: "
            "Input should be a valid number*",
        ]
    )


def test_a_broken_faults_section_fails_collection_with_file_and_line(
    pytester: pytest.Pytester,
) -> None:
    broken = STORM.replace("at: 2s, duration: 5s", "at: 2s, duration: forever")
    pytester.makefile(".yaml", chaoslab_faulty=broken)

    result = pytester.runpytest("--collect-only", "-q")

    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert collected(result) == []
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting chaoslab_faulty.yaml*",
            "chaoslab_faulty.yaml:5: faults.0.app.duration: 'forever' is not a duration*",
        ]
    )


def test_a_faults_section_that_is_no_list_fails_collection(pytester: pytest.Pytester) -> None:
    [fault] = [line for line in STORM.splitlines() if line.startswith("  - {id: storm")]
    broken = STORM.replace(fault, "  storm: {kind: app}")
    pytester.makefile(".yaml", chaoslab_faulty=broken)

    result = pytester.runpytest("--collect-only", "-q")

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["chaoslab_faulty.yaml:5: faults: Input should be a valid list"])


def test_an_expectation_naming_an_unknown_fault_fails_collection(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(
        ".yaml",
        chaoslab_orphan=STORM.replace(
            "{fault: storm, within: 10s}\n  - id: storm-alert",
            "{fault: nope, within: 10s}\n  - id: storm-alert",
        ),
    )

    result = pytester.runpytest("--collect-only", "-q")

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ["chaoslab_orphan.yaml:7: expectation 'exceptions-counted' names unknown fault 'nope'*"]
    )


def test_a_duplicate_key_fails_collection_with_both_lines(pytester: pytest.Pytester) -> None:
    twice = STORM.replace("    threshold: 0\n", "    threshold: 0\n    threshold: 5\n")
    pytester.makefile(".yaml", chaoslab_twice=twice)

    result = pytester.runpytest("--collect-only", "-q")

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ["chaoslab_twice.yaml:11: expectations.0: duplicate key 'threshold' (first at line 10)"]
    )


def test_control_and_seed_are_accepted(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", chaoslab_storm=STORM)

    result = pytester.runpytest("--collect-only", "-q", "--chaoslab-control", "--chaoslab-seed=7")
    not_a_number = pytester.runpytest("--collect-only", "-q", "--chaoslab-seed=seven")

    assert result.ret == pytest.ExitCode.OK
    assert collected(result) == [f"chaoslab_storm.yaml::{id_}" for id_ in EXPECTED_IDS]
    assert not_a_number.ret == pytest.ExitCode.USAGE_ERROR


def test_a_duplicate_expectation_id_is_a_collection_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", chaoslab_twice=STORM.replace("id: error-logs", "id: storm-alert"))

    result = pytester.runpytest("--collect-only", "-q")

    result.stdout.fnmatch_lines(["*expectation id 'storm-alert' is used twice*"])


def test_a_stack_that_is_no_state_dir_is_a_usage_error(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    result = pytester.runpytest(f"--chaoslab-stack={tmp_path / 'nothing-here'}")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*expected 'local', 'compose' or the state dir of a running stack*stack.json*"]
    )


def test_compose_says_what_it_needs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_uses_the_lab(lab):\n    pass\n")

    result = pytester.runpytest("--chaoslab-stack=compose")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*--chaoslab-stack=compose*"])
    if shutil.which("docker") is None:
        result.stdout.fnmatch_lines(["*needs Docker*not on PATH*"])


def test_run_scenario_without_a_name_or_marker_says_how_to_bind_one(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile("def test_unbound(run_scenario):\n    run_scenario()\n")

    result = pytester.runpytest()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*run_scenario() needs a scenario name or path, or a @pytest.mark.chaoslab_scenario*"]
    )
