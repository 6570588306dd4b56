"""The JSON Schemas of scenario files and target profiles, committed for editors.

Point your editor's YAML language server at one, e.g. with a first line::

    # yaml-language-server: $schema=../scenario.schema.json

``chaoslab schema`` prints the scenario schema, ``chaoslab schema --profile``
the profile schema; a test keeps the committed copies current.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from scenarios.model import Scenario
from stack.profile import PROFILES_DIR, TargetProfile

SCHEMA_PATH = Path(__file__).resolve().parent / "scenario.schema.json"
PROFILE_SCHEMA_PATH = PROFILES_DIR.parent / "profile.schema.json"


def _schema(model: type[BaseModel], title: str) -> str:
    schema = model.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = title
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def scenario_schema() -> str:
    """The scenario schema as stable, pretty-printed JSON text."""
    return _schema(Scenario, "chaoslab scenario")


def profile_schema() -> str:
    """The target profile schema as stable, pretty-printed JSON text."""
    return _schema(TargetProfile, "chaoslab target profile")
