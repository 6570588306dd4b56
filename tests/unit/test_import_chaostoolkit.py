"""``chaoslab import chaostoolkit``: experiments in Chaos Toolkit's format, mapped and validated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assertions.expectations import HealthExpectation, MetricExpectation, Window
from scenarios.cli import main
from scenarios.faults import ProcessFault, ProxyDownFault, ToxicFault
from scenarios.importers import (
    ExperimentRejected,
    ImportOptions,
    import_experiment,
    write_scenario,
)
from scenarios.loader import load

RECORDED = Path(__file__).parent / "recorded" / "chaostoolkit"
SUPPORTED = [
    "slow-classifier.json",
    "database-link.yaml",
    "outages.json",
    "sliced-and-stopped.json",
    "side-by-side.json",  # also run by the chaos command (tests/integration/scenarios)
]


@pytest.mark.parametrize("name", SUPPORTED)
def test_each_experiment_imports_to_a_scenario_that_validates(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "scenario.yaml"
    assert main(["import", "chaostoolkit", str(RECORDED / name), "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert main(["validate", str(out)]) == 0
    text = out.read_text()
    assert "# yaml-language-server: $schema=" in text.splitlines()[0]
    assert f"Chaos Toolkit experiment {RECORDED / name}" in text.replace("\n# ", " ")
    assert load(out).faults  # every supported experiment injects something


def test_latency_toxic_deleted_after_a_pause_is_one_fault_with_its_duration() -> None:
    result = import_experiment(RECORDED / "slow-classifier.json")
    scenario = result.scenario
    assert scenario.faults == [
        ToxicFault(
            id="classifier-latency",
            at=15,
            duration=20,
            description="classifier-latency (method[0])",
            target="downstream",
            toxic="latency",
            stream="downstream",
            toxicity=1.0,
            attributes={"latency": 800, "jitter": 50},
        )
    ]
    after = Window(fault="classifier-latency", after_end=True, within=20)
    ready, errors = scenario.expectations
    assert isinstance(ready, HealthExpectation)
    assert (ready.probe, ready.status, ready.window) == ("readiness", 200, after)
    assert isinstance(errors, MetricExpectation)
    assert (errors.op, errors.threshold, errors.window) == ("==", 0.0, after)
    assert errors.query.startswith('sum(rate(http_requests_total{job="target",status=~"5.."}')
    assert scenario.load.duration == 15 + 25 + 20
    assert scenario.tags == ["latency", "downstream", "chaostoolkit"]
    notes = [str(n) for n in result.notes]
    assert "rollbacks[0]: consistent with the lab's own undo of fault 'classifier-latency'" in notes
    assert any(n.startswith("steady-state-hypothesis.probes[1].tolerance.path") for n in notes)


def test_every_toxic_helper_and_a_reset_place_faults_by_the_pauses() -> None:
    result = import_experiment(RECORDED / "database-link.yaml", ImportOptions(lead_in=10))
    got = {
        f.id: (f.at, f.duration, f.toxic, f.stream, f.toxicity, f.attributes)
        for f in result.scenario.faults
        if isinstance(f, ToxicFault)
    }
    assert got == {
        # before 2, after ${step} = 8 and 4 more: deleted at 14
        "trickle": (12, 12, "bandwidth", "downstream", 1.0, {"rate": 64}),
        # created at 10, ended by the reset at 24
        "upstream-throttle": (20, 14, "bandwidth", "upstream", 0.5, {"rate": 128}),
        "slow-close": (24, 10, "slow_close", "downstream", 1.0, {"delay": 500}),
        "stall": (29, 5, "timeout", "downstream", 1.0, {"timeout": 2000}),
    }
    assert {f.target for f in result.scenario.faults if isinstance(f, ToxicFault)} == {"postgres"}
    (count,) = [e for e in result.scenario.expectations if isinstance(e, MetricExpectation)]
    assert (count.query, count.op, count.threshold) == (
        'count(max(db_pool_size{job="target"})) or vector(0)',
        "==",
        1.0,
    )
    assert result.scenario.load.duration == 10 + 27 + 20


def test_proxy_actions_disable_and_enable_and_rollbacks_by_reference() -> None:
    result = import_experiment(RECORDED / "outages.json")
    faults = result.scenario.faults
    assert [(type(f), f.id, f.at, f.duration) for f in faults] == [
        (ProxyDownFault, "postgres-down", 16, 10),
        (ProxyDownFault, "downstream-down", 31, 6),
    ]
    alive, counted = result.scenario.expectations
    assert isinstance(alive, HealthExpectation)
    assert (alive.probe, alive.status) == ("liveness", 200)
    assert alive.window == Window(fault="downstream-down", after_end=True, within=20)
    assert isinstance(counted, MetricExpectation)
    assert (counted.query, counted.op, counted.threshold) == (
        'count(sum(http_requests_total{job="target"}))',
        ">",
        0.0,
    )
    notes = [str(n) for n in result.notes]
    assert "rollbacks[1]: consistent with the lab's own undo of fault 'downstream-down'" in notes


def test_slicer_limiter_and_process_signals() -> None:
    result = import_experiment(RECORDED / "sliced-and-stopped.json")
    faults = {f.id: f for f in result.scenario.faults}
    slices, cap = faults["slices"], faults["cap"]
    assert isinstance(slices, ToxicFault)
    assert isinstance(cap, ToxicFault)
    assert (slices.toxic, slices.attributes) == (
        "slicer",
        {"average_size": 64, "size_variation": 16, "delay": 10},
    )
    assert (slices.at, slices.duration) == (15, 10)
    # never deleted in the method: in place until the method ends (24 s), then the rollback
    assert (cap.toxic, cap.target, cap.attributes, cap.at, cap.duration) == (
        "limit_data",
        "postgres",
        {"bytes": 1048576},
        21,
        18,
    )
    pause, kill = faults["classifier-pause"], faults["classifier-kill"]
    assert isinstance(pause, ProcessFault)
    assert isinstance(kill, ProcessFault)
    assert (pause.target, pause.action, pause.at, pause.duration) == ("classifier", "pause", 25, 5)
    assert (kill.target, kill.action, kill.at, kill.duration) == ("classifier", "kill", 33, 4)
    notes = [str(n) for n in result.notes]
    assert "rollbacks[0]: consistent with the lab's own undo of fault 'cap'" in notes
    assert "rollbacks[1]: consistent with the lab's own undo of fault 'classifier-pause'" in notes


UNSUPPORTED_PATHS = [
    "controls",
    "runtime.hypothesis.strategy",
    "steady-state-hypothesis.probes[0].tolerance",
    "steady-state-hypothesis.probes[1].provider.method",
    "steady-state-hypothesis.probes[1].provider.url",
    "steady-state-hypothesis.probes[2].tolerance",
    "steady-state-hypothesis.probes[3].provider.func",
    "steady-state-hypothesis.probes[4].provider.arguments.when",
    "steady-state-hypothesis.probes[4].tolerance.expect",
    "steady-state-hypothesis.probes[5].provider.module",
    "method[0].provider.module",
    "method[1].provider.type",
    "method[2].provider.arguments.for_proxy",
    "method[3].provider.arguments.upstream_address",
    "method[4].type",
    "method[5].background",
    "method[5].provider.arguments.toxic_type",
    "method[5].pauses.after",
    "method[6].provider.func",
    "method[7].provider.arguments",
    "method[8].provider.arguments",
    "method[9].provider.arguments.latncy",
    "method[9].provider.arguments",
    "method[9].pauses.after",
    "method[10].provider.func",
    "rollbacks[0]",
    "rollbacks[1]",
]


def test_unsupported_activities_exit_2_with_every_json_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "scenario.yaml"
    source = RECORDED / "unsupported.json"
    assert main(["import", "chaostoolkit", str(source), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    paths = [line.split(": ", 2)[1] for line in err.splitlines() if line.startswith(str(source))]
    assert paths == UNSUPPORTED_PATHS
    assert f"error: {len(UNSUPPORTED_PATHS)} parts of the experiment cannot be expressed" in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # nothing staged left behind either


def experiment(tmp_path: Path, method: list[object], **extra: object) -> Path:
    probe = {
        "type": "probe",
        "name": "ready",
        "tolerance": 200,
        "provider": {"type": "http", "url": "http://127.0.0.1:8000/readiness"},
    }
    doc = {
        "title": "t",
        "steady-state-hypothesis": {"title": "h", "probes": [probe]},
        "method": method,
        **extra,
    }
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps(doc))
    return path


def toxic(func: str, name: str = "lag", proxy: str = "downstream", **args: object) -> object:
    return {
        "type": "action",
        "name": f"{func}-{name}",
        "provider": {
            "type": "python",
            "module": "chaostoxi.toxic.actions",
            "func": func,
            "arguments": {"for_proxy": proxy, "toxic_name": name, **args},
        },
        "pauses": {"after": 5},
    }


def rejected(path: Path, **options: object) -> list[str]:
    with pytest.raises(ExperimentRejected) as caught:
        import_experiment(path, ImportOptions(**options))  # type: ignore[arg-type]  # test shorthand
    return [str(p) for p in caught.value.problems]


def test_a_toxic_created_twice_or_deleted_unmade_is_reported(tmp_path: Path) -> None:
    method = [
        toxic("create_latency_toxic", latency=100),
        toxic("create_latency_toxic", latency=200),
        toxic("delete_toxic", name="other"),
    ]
    problems = rejected(experiment(tmp_path, method))
    assert problems == [
        "method[1]: toxic 'lag' on proxy 'downstream' is already in place (since method[0])",
        "method[2]: undoes toxic 'other' on 'downstream', which the method has not put in "
        "place by then (the lab starts every run from a clean stack)",
    ]


def test_a_fault_without_time_is_reported_at_the_action_ending_it(tmp_path: Path) -> None:
    create = toxic("create_latency_toxic", latency=100)
    create["pauses"] = {}  # type: ignore[index]  # a dict built above
    problems = rejected(experiment(tmp_path, [create, toxic("delete_toxic")]))
    assert problems == [
        "method[1]: toxic 'lag' on proxy 'downstream' would last 0 s: give the method a "
        "pause while it is in place"
    ]


def test_a_profile_names_its_own_proxies(tmp_path: Path) -> None:
    bookshop = Path(__file__).parents[2] / "examples" / "bookshop" / "profile.yaml"
    path = experiment(tmp_path, [toxic("create_latency_toxic", latency=100)])
    assert rejected(path, profile=bookshop) == [
        "method[0].provider.arguments.for_proxy: proxy 'downstream' is not one of the lab's "
        "(the target profile's dependencies: db, pricing)"
    ]
    ok = experiment(tmp_path, [toxic("create_latency_toxic", proxy="pricing", latency=100)])
    out = tmp_path / "out" / "bookshop.yaml"
    assert (
        main(["import", "chaostoolkit", str(ok), "--target", str(bookshop), "--out", str(out)]) == 0
    )
    scenario = load(out)
    assert scenario.profile.name == "bookshop"
    assert [f.target for f in scenario.faults if isinstance(f, ToxicFault)] == ["pricing"]


def test_an_existing_scenario_is_replaced_only_with_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = str(RECORDED / "outages.json")
    out = tmp_path / "s.yaml"
    out.write_text("mine\n")
    assert main(["import", "chaostoolkit", source, "--out", str(out)]) == 2
    assert "already exists: --force replaces it" in capsys.readouterr().err
    assert out.read_text() == "mine\n"
    assert main(["import", "chaostoolkit", source, "--out", str(out), "--force"]) == 0
    assert load(out).name == "database-and-classifier-outages"


def test_not_json_is_invalid_input_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "title": "x",\n  oops\n}\n')
    assert main(["import", "chaostoolkit", str(bad)]) == 2
    assert "(line 3, column 3): not valid JSON" in capsys.readouterr().err


def test_sections_that_are_not_lists_are_reported(tmp_path: Path) -> None:
    path = experiment(tmp_path, {"type": "action"}, tags="x", rollbacks={})  # type: ignore[arg-type]  # wrong on purpose
    assert rejected(path) == [
        "tags: a list, in Chaos Toolkit's format",
        "method: a list, in Chaos Toolkit's format",
        "rollbacks: a list, in Chaos Toolkit's format",
    ]


def test_a_placeholder_must_be_in_the_configuration(tmp_path: Path) -> None:
    path = experiment(tmp_path, [toxic("create_latency_toxic", latency="${lag}")])
    doc = json.loads(path.read_text())
    doc["steady-state-hypothesis"]["probes"][0]["provider"]["url"] = "${base}/readiness"
    path.write_text(json.dumps(doc))
    assert rejected(path) == [
        "steady-state-hypothesis.probes[0].provider.url: ${base} is not in the experiment's "
        "configuration",
        "method[0].provider.arguments.latency: ${lag} is not in the experiment's configuration",
        "method[0].provider.arguments.latency: a toxic attribute is a whole number, 0 or more",
    ]
    doc["configuration"] = {"base": "http://127.0.0.1:8000", "lag": 250}
    path.write_text(json.dumps(doc))
    (fault,) = import_experiment(path).scenario.faults
    assert isinstance(fault, ToxicFault)
    assert fault.attributes == {"latency": 250, "jitter": 0}


def test_a_long_title_is_cut_at_a_word_for_the_name() -> None:
    scenario = import_experiment(RECORDED / "side-by-side.json").scenario
    assert scenario.name == "side-by-side-a-slow-classifier-and-a-throttled-database"
    assert len(scenario.name) <= 61


def test_the_default_output_sits_beside_the_experiment(tmp_path: Path) -> None:
    path = experiment(tmp_path, [toxic("create_latency_toxic", latency=100)])
    result = import_experiment(path)
    written = write_scenario(result, tmp_path / "experiment.scenario.yaml")
    assert load(written).faults[0].duration == 5
    assert main(["import", "chaostoolkit", str(path), "--force"]) == 0
    assert (tmp_path / "experiment.scenario.yaml").exists()
