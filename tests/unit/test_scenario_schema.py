"""The committed JSON Schema matches the model and accepts the catalog."""

from __future__ import annotations

import json

from scenarios.schema import PROFILE_SCHEMA_PATH, SCHEMA_PATH, profile_schema, scenario_schema


def test_committed_schema_is_current() -> None:
    assert SCHEMA_PATH.read_text() == scenario_schema(), (
        "scenarios/scenario.schema.json is stale: run `chaoslab schema > "
        "scenarios/scenario.schema.json`"
    )


def test_schema_describes_every_fault_and_expectation_kind() -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    text = json.dumps(schema)
    for kind in ("toxic", "proxy_down", "db_lock", "db_connection_hog", "app", "process"):
        assert f'"const": "{kind}"' in text, kind
    for kind in ("metric", "alert", "trace", "sentry", "log", "health"):
        assert f'"const": "{kind}"' in text, kind
    assert set(schema["required"]) >= {"name", "title", "load", "expectations"}


def test_committed_profile_schema_is_current() -> None:
    assert PROFILE_SCHEMA_PATH.read_text() == profile_schema(), (
        "stack/profile.schema.json is stale: run `chaoslab schema --profile > "
        "stack/profile.schema.json`"
    )
    schema = json.loads(PROFILE_SCHEMA_PATH.read_text())
    assert set(schema["required"]) >= {"name", "service", "load"}
    assert {"url", "command", "dependencies", "rules", "settings"} <= set(schema["properties"])
