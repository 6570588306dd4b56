"""The bookshop example, a service the lab did not write, tested through its target profile.

``chaoslab up --target examples/bookshop/profile.yaml`` once; both example
scenarios run on it with ``--control``: every detection must be proven (met
with the fault, not without it). The bookshop's own rules, written in
production windows, fire in the lab's Prometheus at time scale 1/30 and
reach the webhook; the bundled rules are not loaded for it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from scenarios.loader import load
from tests.integration.scenarios.conftest import UpStack, journal_of

pytestmark = [pytest.mark.integration, pytest.mark.catalog]

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "bookshop"
SCENARIOS = ["pricing-timeout.yaml", "db-latency.yaml"]


@pytest.fixture(scope="module")
def bookshop_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpStack]:
    stack = UpStack(tmp_path_factory.mktemp("bookshop") / ".chaoslab")
    started = stack.cli("up", "--target", str(EXAMPLE / "profile.yaml"), timeout=900)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        # `up --target` prints what a service started by hand would need.
        assert "export BOOKSHOP_DATABASE_URL=" in started.stdout, started.stdout
        assert "export SENTRY_DSN=" in started.stdout
        yield stack
    finally:
        stack.cli("panic", timeout=120)
        stack.cli("down", timeout=120)


def test_the_stack_runs_the_bookshop_and_only_its_own_rules(bookshop_stack: UpStack) -> None:
    state = bookshop_stack.state
    assert state.profile is not None
    assert (state.profile.name, state.profile.job, state.profile.rule_time_scale) == (
        "bookshop",
        "bookshop",
        "1/30",
    )
    assert {"target", "pricing", "postgres"} <= set(state.components)
    assert "classifier" not in state.components
    rules = httpx.get(state.endpoints.prometheus_url + "/api/v1/rules", timeout=5).json()
    loaded = {
        (rule["name"], rule["duration"])
        for group in rules["data"]["groups"]
        for rule in group["rules"]
    }
    # Written `for: 2m`, loaded as 4 s; none of the bundled document-service rules.
    assert loaded == {
        ("BookshopPricingDegraded", 4),
        ("BookshopDatabaseErrors", 4),
        ("BookshopHighErrorRatio", 4),
    }


@pytest.mark.parametrize("name", SCENARIOS)
def test_an_example_scenario_proves_every_detection(
    bookshop_stack: UpStack, tmp_path: Path, name: str
) -> None:
    out = tmp_path / "out"
    done = bookshop_stack.cli("run", str(EXAMPLE / name), "--control", "--out", str(out))
    journal = journal_of(out)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert journal["target_profile"] == "bookshop"
    assert journal["rule_time_scale"] == "1/30"
    assert journal["stack_owned"] is False
    verdicts = {j["id"]: j["judgement"] for j in journal["control"]["judgements"]}
    spec = load(EXAMPLE / name)
    assert {e.kind for e in spec.expectations} >= {"metric", "alert", "trace", "sentry"}
    for exp in spec.expectations:
        assert verdicts[exp.id] == ("held" if exp.absent else "proven"), (exp.id, verdicts)
    alerts = [e for e in journal["expectations"] if e["kind"] == "alert"]
    assert all("webhook: 1 firing notification" in e["observed"] for e in alerts), alerts
    assert journal["load"]["windows"]["during"]["failures"] > 0
    assert journal["load"]["windows"]["before"]["failures"] == 0


def test_a_drill_runs_on_the_bookshop_and_names_its_own_components(
    bookshop_stack: UpStack, tmp_path: Path
) -> None:
    fast = ("--at", "3s-4s", "--max-duration", "10m", "--facilitator", "ada")
    picked = bookshop_stack.cli("drill", "start", "--pick", *fast)
    assert picked.returncode == 2, picked.stdout + picked.stderr
    assert "targets profile bookshop" in picked.stderr  # the catalog is the bundled service's
    scenario = str(EXAMPLE / "pricing-timeout.yaml")
    start = bookshop_stack.cli("drill", "start", scenario, "--seed", "1", *fast)
    assert start.returncode == 0, start.stdout + start.stderr
    try:
        deadline = time.monotonic() + 90
        secret: dict[str, Any] = {}
        while time.monotonic() < deadline and not any(
            v["status"] == "passed" for v in secret.get("verdicts", [])
        ):
            time.sleep(1.0)
            shown = bookshop_stack.cli("drill", "reveal", "--facilitator", "--json")
            secret = json.loads(shown.stdout)
        fault = secret["faults"][0]
        assert fault["component"] == "pricing"
        status = json.loads(bookshop_stack.cli("drill", "status", "--json").stdout)
        assert status["components"] == ["bookshop", "db", "pricing"]
        declared = bookshop_stack.cli(
            "drill", "declare", "pricing never answers", "--by", "bo",
            "--component", "pricing", "--kind", fault["diagnosis"],
        )  # fmt: skip
        assert declared.returncode == 0, declared.stderr
    finally:
        end = bookshop_stack.cli("drill", "end", "--out", str(tmp_path / "drill"))
    assert end.returncode in (0, 1), end.stdout + end.stderr
    journal = json.loads((tmp_path / "drill" / "drill-journal.json").read_text())
    assert journal["status"] == "scored"
    assert journal["declarations"][0]["correct"]
    assert journal["score"]["fastest_automated_s"] is not None
    assert bookshop_stack.toxics("pricing") == []
