"""Read scenario files, reporting every problem with its file and line."""

from __future__ import annotations

from pathlib import Path

import yaml

from scenarios.exceptions import Problem, ScenarioInvalid, ScenarioNotFound
from scenarios.model import Scenario
from scenarios.profiles import load_profile, mismatches
from scenarios.yamldoc import line_of, line_of_id, parse_document
from stack.profile import DEFAULT_PROFILE

CATALOG_DIR = Path(__file__).resolve().parent / "catalog"


def parse(text: str, path: Path) -> Scenario:
    """A validated :class:`Scenario` bound to its target profile, or :class:`ScenarioInvalid`."""
    scenario, root = parse_document(
        text, path, Scenario, "a scenario file is a mapping (name, load...)"
    )
    profile_path = (
        DEFAULT_PROFILE
        if scenario.target.profile is None
        else (path.parent / scenario.target.profile).resolve()
    )
    try:
        profile = load_profile(profile_path)
    except ScenarioInvalid as exc:
        line = line_of(root, ("target", "profile"))
        lead = Problem(path, line, f"target profile {profile_path} is not valid:")
        raise ScenarioInvalid([lead, *exc.problems]) from exc
    problems = [
        Problem(path, _line(root, loc), message) for loc, message in mismatches(scenario, profile)
    ]
    if problems:
        raise ScenarioInvalid(problems)
    return scenario.with_profile(profile)


def _line(root: yaml.Node | None, loc: tuple[str | int, ...]) -> int | None:
    """Line of ``loc``; a fault or expectation named by id is found by its id."""
    if len(loc) == 2 and loc[0] == "#id":
        return line_of_id(root, str(loc[1]))
    return line_of(root, loc)


def load(path: Path) -> Scenario:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioInvalid([Problem(path, None, f"cannot read: {exc.strerror}")]) from exc
    return parse(text, path)


def catalog() -> dict[str, Path]:
    """Catalog scenario names and their files."""
    return {path.stem: path for path in sorted(CATALOG_DIR.glob("*.yaml"))}


def resolve(name_or_file: str) -> Path:
    """A catalog name or a path to a scenario file."""
    path = Path(name_or_file)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.exists():
            raise ScenarioNotFound(name_or_file, list(catalog()))
        return path
    known = catalog()
    if name_or_file not in known:
        raise ScenarioNotFound(name_or_file, list(known))
    return known[name_or_file]
