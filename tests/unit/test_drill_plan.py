"""Planning a drill: the seeded pick and offset, the drill-shaped scenario, the names to find."""

from __future__ import annotations

import pytest

from scenarios.drill.plan import (
    DIAGNOSES,
    DRILL_NAME,
    candidates,
    choose,
    component_of,
    components,
    diagnosis_of,
    drill_scenario,
    fault_plans,
    mentions,
    parse_range,
)
from scenarios.exceptions import DrillInvalid
from scenarios.loader import catalog, load
from scenarios.model import Scenario


@pytest.fixture(scope="module")
def scenarios() -> dict[str, Scenario]:
    return {name: load(path) for name, path in catalog().items()}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2m-8m", (120.0, 480.0)), ("30s..90s", (30.0, 90.0)), ("45s", (45.0, 45.0))],
)
def test_an_offset_range_reads_as_seconds(text: str, expected: tuple[float, float]) -> None:
    assert parse_range(text) == expected


@pytest.mark.parametrize("text", ["soon", "8m-2m", "1m-", "-5s"])
def test_a_bad_offset_range_is_refused_with_the_flag(text: str) -> None:
    with pytest.raises(DrillInvalid, match="--at"):
        parse_range(text)


def test_the_same_seed_picks_the_same_scenario_and_offset() -> None:
    names = ["a", "b", "c", "d"]
    assert choose(names, (60, 300), 42) == choose(names, (60, 300), 42)
    picks = {choose(names, (60, 300), seed) for seed in range(20)}
    assert len({name for name, _ in picks}) > 1, "another seed can pick another scenario"
    assert len({offset for _, offset in picks}) > 1
    assert all(60 <= offset <= 300 for _, offset in picks)


def test_candidates_are_catalog_scenarios_of_the_profile_with_a_tag(
    scenarios: dict[str, Scenario],
) -> None:
    assert candidates(scenarios, ["dependency"], "documents") == [
        "downstream-timeout",
        "slow-dependency",
    ]
    assert candidates(scenarios, [], "documents") == sorted(scenarios)
    assert candidates(scenarios, ["no-such-tag"], "documents") == []
    assert candidates(scenarios, ["dependency"], "bookshop") == []


def test_every_catalog_fault_has_a_kind_to_name_and_a_component(
    scenarios: dict[str, Scenario],
) -> None:
    for scenario in scenarios.values():
        names = components(scenario.profile)
        for fault in scenario.faults:
            assert diagnosis_of(fault) in DIAGNOSES
            assert component_of(fault, scenario.profile) in names, (scenario.name, fault.id)
    assert diagnosis_of(scenarios["slow-dependency"].faults[0]) == "latency"
    slow = scenarios["slow-dependency"]
    assert component_of(slow.faults[0], slow.profile) == "downstream"
    assert diagnosis_of(scenarios["pool-exhaustion"].faults[0]) == "slow-queries"
    assert diagnosis_of(scenarios["db-lock-contention"].faults[0]) == "lock"


def test_a_drill_scenario_holds_its_faults_from_the_offset_to_the_end(
    scenarios: dict[str, Scenario],
) -> None:
    base = scenarios["pool-exhaustion"]
    data = base.model_dump(mode="json", by_alias=True)
    recovered = dict(data["expectations"][0], id="recovers")
    recovered["window"] = {"fault": "slow-queries", "after_end": True, "within": 20}
    data["expectations"].append(recovered)
    original = Scenario.model_validate(data).with_profile(base.profile)
    drill = drill_scenario(original, 90.0, 1800.0)
    assert drill.name == DRILL_NAME
    assert drill.title == "game-day drill"
    assert drill.load.duration == 1800.0
    assert drill.load.users == original.load.users
    (fault,) = drill.faults
    assert fault.at == 90.0
    assert fault.end == 1800.0
    assert all(e.window.within is None for e in drill.expectations)
    assert all(not e.window.after_end for e in drill.expectations)
    kept = {e.id for e in drill.expectations}
    recovery = {e.id for e in original.expectations if e.window.after_end}
    assert recovery == {"recovers"}
    assert kept == {e.id for e in original.expectations} - recovery
    assert drill.profile is original.profile
    (plan,) = fault_plans(original, 90.0)
    assert plan.at == 90.0
    assert plan.component == original.profile.service


def test_declaration_text_names_a_kind_by_whole_words() -> None:
    assert mentions("the classifier is SLOW", DIAGNOSES["latency"].words)
    assert not mentions("slowdown elsewhere", DIAGNOSES["latency"].words)
    assert mentions("a table lock on documents", DIAGNOSES["lock"].words)
    assert not mentions("everything is fine", DIAGNOSES["lock"].words)
