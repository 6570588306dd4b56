"""``validate`` rejects broken scenario files with file, line and what was wrong."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from scenarios.exceptions import ScenarioInvalid
from scenarios.loader import catalog, load, parse

VALID = """\
name: tiny
title: Tiny
load:
  users: 2
  duration: 30s
faults:
  - id: slow
    kind: app
    at: 5s
    duration: 10s
    switches: {slow_query_s: 0.2}
expectations:
  - id: waiters
    kind: metric
    query: max(db_pool_waiting)
    threshold: 0
    window: {fault: slow, within: 20s}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ScenarioInvalid) as raised:
        parse(textwrap.dedent(text), Path("broken.yaml"))
    return [str(p) for p in raised.value.problems]


def test_the_valid_example_parses() -> None:
    scenario = parse(VALID, Path("tiny.yaml"))
    assert scenario.load.duration == 30
    assert scenario.faults[0].end == 15


def test_every_catalog_scenario_is_valid() -> None:
    names = set(catalog())
    assert {
        "pool-exhaustion",
        "slow-dependency",
        "exception-storm",
        "db-lock-contention",
        "db-outage",
        "downstream-timeout",
        "connection-reset",
        "bandwidth-starved",
    } <= names
    for path in catalog().values():
        scenario = load(path)
        kinds = {exp.kind for exp in scenario.expectations}
        assert len(kinds) >= 3, f"{path.name} checks only {kinds}"


def test_bad_yaml_names_the_line() -> None:
    assert problems("name: x\nload: [unclosed\n") == [
        "broken.yaml:3: not valid YAML: expected ',' or ']', but got '<stream end>'"
    ]


def test_not_a_mapping() -> None:
    assert problems("- just\n- a list\n") == [
        "broken.yaml:1: a scenario file is a mapping (name, load...)"
    ]


def test_unknown_fault_kind_names_its_line() -> None:
    found = problems(VALID.replace("kind: app", "kind: meteor"))
    assert len(found) == 1
    assert found[0].startswith("broken.yaml:8: faults.0: Input tag 'meteor'")
    assert "'toxic'" in found[0]


def test_unknown_expectation_kind() -> None:
    found = problems(VALID.replace("kind: metric", "kind: vibes"))
    assert found[0].startswith("broken.yaml:14: expectations.0: Input tag 'vibes'")


def test_bad_duration() -> None:
    found = problems(VALID.replace("duration: 30s", "duration: thirty"))
    assert found == [
        "broken.yaml:5: load.duration: 'thirty' is not a duration: "
        "write e.g. '500ms', '30s', '2m' or '1m30s'"
    ]


def test_negative_offset() -> None:
    found = problems(VALID.replace("at: 5s", "at: -5"))
    assert found == ["broken.yaml:9: faults.0.app.at: a duration cannot be negative"]


def test_fault_outside_the_run() -> None:
    found = problems(VALID.replace("at: 5s", "at: 25s"))
    assert found == ["broken.yaml:7: fault 'slow' runs until 35s, after the load ends at 30s"]


def test_expectation_naming_an_unknown_fault() -> None:
    found = problems(VALID.replace("fault: slow,", "fault: slo,"))
    assert found == [
        "broken.yaml:13: expectation 'waiters' names unknown fault 'slo' (faults: slow)"
    ]


def test_unknown_switch_and_unknown_toxic_attribute() -> None:
    found = problems(VALID.replace("slow_query_s: 0.2", "slow_querys: 0.2"))
    assert len(found) == 1
    assert found == [
        "broken.yaml:11: faults.0.app.switches.slow_querys: Extra inputs are not permitted"
    ]
    toxic = VALID.replace(
        "kind: app\n    at: 5s\n    duration: 10s\n    switches: {slow_query_s: 0.2}",
        "kind: toxic\n    target: postgres\n    toxic: latency\n    at: 5s\n"
        "    duration: 10s\n    attributes: {latncy: 100}",
    )
    found = problems(toxic)
    assert found == [
        "broken.yaml:13: faults.0.toxic.attributes: toxic 'latency' has no attribute latncy "
        "(it takes jitter, latency)"
    ]


def test_every_problem_is_reported_at_once() -> None:
    text = VALID.replace("users: 2", "users: 0").replace("threshold: 0", "threshold: high")
    found = problems(text)
    assert len(found) == 2
    assert found[0].startswith("broken.yaml:4: load.users:")
    assert found[1].startswith("broken.yaml:16: expectations.0.metric.threshold:")


def test_duplicate_ids() -> None:
    twice = "expectations:\n  - {id: waiters, kind: log, event: x}\n"
    found = problems(VALID.replace("expectations:\n", twice))
    assert found == ["broken.yaml:13: expectation id 'waiters' is used twice"]


def test_a_duplicate_top_level_key_names_both_lines() -> None:
    found = problems(VALID.replace("title: Tiny\n", "title: Tiny\nname: tiny-again\n"))
    assert found == ["broken.yaml:3: duplicate key 'name' (first at line 1)"]


def test_a_duplicate_key_inside_a_fault_names_both_lines() -> None:
    found = problems(VALID.replace("    at: 5s\n", "    at: 5s\n    at: 6s\n"))
    assert found == ["broken.yaml:10: faults.0: duplicate key 'at' (first at line 9)"]


def test_a_duplicate_key_inside_an_expectation_names_both_lines() -> None:
    found = problems(VALID.replace("    threshold: 0\n", "    threshold: 0\n    threshold: 1\n"))
    assert found == ["broken.yaml:17: expectations.0: duplicate key 'threshold' (first at line 16)"]


def test_a_duplicate_key_is_reported_beside_other_problems() -> None:
    text = VALID.replace("users: 2", "users: 0").replace("title: Tiny\n", "title: Tiny\ntitle: T\n")
    found = problems(text)
    assert found[0] == "broken.yaml:3: duplicate key 'title' (first at line 2)"
    assert found[1].startswith("broken.yaml:5: load.users:")


def test_validate_exits_2_on_a_duplicate_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from scenarios.cli import main

    path = tmp_path / "twice.yaml"
    path.write_text("name: twice\n" + VALID)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr()
    assert f"{path}:2: duplicate key 'name' (first at line 1)" in err.out + err.err
