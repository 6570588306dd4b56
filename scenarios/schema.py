"""The JSON Schema of scenario files, committed for editor completion and validation.

Point your editor's YAML language server at it, e.g. with a first line::

    # yaml-language-server: $schema=../scenario.schema.json

``chaoslab schema`` prints it; a test keeps the committed copy current.
"""

from __future__ import annotations

import json
from pathlib import Path

from scenarios.model import Scenario

SCHEMA_PATH = Path(__file__).resolve().parent / "scenario.schema.json"


def scenario_schema() -> str:
    """The schema as stable, pretty-printed JSON text."""
    schema = Scenario.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "chaoslab scenario"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
