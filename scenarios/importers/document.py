"""The imported scenario as YAML text: where it came from in a header, then the scenario.

The header names the experiment (path and SHA-256), how its time maps onto the
load, and every note of the import with its JSON path; the body is the
scenario as PyYAML's safe dumper writes it (durations as ``15s``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from scenarios.importers.chaostoolkit import Imported
from scenarios.scaffold.yamltext import comment, dump, fill, schema_header
from scenarios.schema import SCHEMA_PATH

_SECONDS = ("at", "duration", "within", "hold", "grace")


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _item(model: BaseModel) -> dict[str, object]:
    """A fault or expectation: id and kind first, defaults left out, durations as ``15s``."""
    data = model.model_dump(mode="json", exclude_defaults=True)
    ordered: dict[str, object] = {"id": data.pop("id"), "kind": getattr(model, "kind", None)}
    for key, value in data.items():
        if key in _SECONDS and isinstance(value, int | float):
            ordered[key] = _seconds(value)
        elif key == "window" and isinstance(value, dict):
            ordered[key] = {
                k: _seconds(v) if k in _SECONDS and isinstance(v, int | float) else v
                for k, v in value.items()
            }
        else:
            ordered[key] = value
    return ordered


def render(imported: Imported, out: Path) -> str:
    """The scenario file's text, to be written at ``out``."""
    scenario = imported.scenario
    options = imported.options
    data: dict[str, object] = {
        "name": scenario.name,
        "title": scenario.title,
        "story": scenario.story,
        "tags": list(scenario.tags),
    }
    if scenario.target.profile is not None:
        data["target"] = {"profile": scenario.target.profile}
    data["load"] = {
        "users": scenario.load.users,
        "spawn_rate": scenario.load.spawn_rate,
        "duration": _seconds(scenario.load.duration),
    }
    data["faults"] = [_item(f) for f in scenario.faults]
    data["expectations"] = [_item(e) for e in scenario.expectations]
    header = fill(
        f"Imported from the Chaos Toolkit experiment {imported.source} (sha256 "
        f"{imported.sha256[:16]}) by `chaoslab import chaostoolkit`. The method's time 0 "
        f"is {options.lead_in:g}s into the load; the steady-state probes are checked in the "
        f"{options.tail:g}s after the last fault ends. Import it again rather than editing "
        "the mapped parts by hand."
    )
    notes = "".join(f"  - {note}\n" for note in imported.notes)
    notes_text = f"Notes of the import:\n{notes}" if notes else ""
    return (
        schema_header(SCHEMA_PATH, out.parent)
        + comment(header)
        + (comment(notes_text) if notes_text else "")
        + dump(data)
    )


__all__ = ["render"]
