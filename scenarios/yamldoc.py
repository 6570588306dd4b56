"""YAML documents validated by a pydantic model, every problem with its file and line.

Shared by scenario files and target profiles: a duplicate key is reported
with both lines, a pydantic error at the line of the value it is about, and a
cross-field problem that names a fault or expectation id at that id's line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from scenarios.exceptions import Problem, ScenarioInvalid

M = TypeVar("M", bound=BaseModel)
_QUOTED_ID = re.compile(r"(?:fault|expectation) (?:id )?'([^']+)'")


def line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the YAML node at pydantic's error location (best effort)."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if isinstance(node, yaml.MappingNode):
            found = next(
                (value for key, value in node.value if getattr(key, "value", None) == part),
                None,
            )
            if found is None or (isinstance(found, yaml.ScalarNode) and not last):
                # A discriminator tag (``toxic``, ``metric``...) in the location,
                # not a key to descend into.
                continue
            node, line = found, found.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def line_of_id(node: yaml.Node | None, wanted: str) -> int | None:
    """Line of the mapping whose ``id`` is ``wanted`` (for cross-reference problems)."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if getattr(key, "value", None) == "id" and getattr(value, "value", None) == wanted:
                return int(key.start_mark.line) + 1
        children = [value for _key, value in node.value]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    else:
        return None
    for child in children:
        found = line_of_id(child, wanted)
        if found is not None:
            return found
    return None


def _duplicate_keys(root: yaml.Node | None, path: Path) -> list[Problem]:
    """Every key given twice in one mapping, anywhere in the tree, with both lines.

    PyYAML's loader keeps the last value silently; the composed node tree still
    has every key, so the walk sees what the author wrote.
    """
    problems: list[Problem] = []
    seen_nodes: set[int] = set()  # an alias shares its anchor's node: visit it once

    def walk(node: yaml.Node, where: tuple[str, ...]) -> None:
        if id(node) in seen_nodes:
            return
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    line = int(key.start_mark.line) + 1
                    marker = (str(key.tag), str(key.value))
                    if marker in first:
                        prefix = f"{'.'.join(where)}: " if where else ""
                        problems.append(
                            Problem(
                                path,
                                line,
                                f"{prefix}duplicate key {key.value!r} "
                                f"(first at line {first[marker]})",
                            )
                        )
                    else:
                        first[marker] = line
                    walk(value, (*where, str(key.value)))
                else:
                    walk(value, where)
        elif isinstance(node, yaml.SequenceNode):
            for index, child in enumerate(node.value):
                walk(child, (*where, str(index)))

    if root is not None:
        walk(root, ())
    return problems


def _message(error: Any) -> str:
    loc = ".".join(str(part) for part in error["loc"])
    text = str(error["msg"]).removeprefix("Value error, ")
    return f"{loc}: {text}" if loc else text


def parse_document(text: str, path: Path, model: type[M], what: str) -> tuple[M, yaml.Node | None]:
    """A validated ``model`` and the YAML node tree (for lines), or :class:`ScenarioInvalid`.

    ``what`` says what the file should be, for a file that is not a mapping.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ScenarioInvalid([Problem(path, line, f"not valid YAML: {exc.problem}")]) from exc
    except yaml.YAMLError as exc:
        raise ScenarioInvalid([Problem(path, None, f"not valid YAML: {exc}")]) from exc
    if not isinstance(data, dict):
        raise ScenarioInvalid([Problem(path, 1, what)])
    duplicates = _duplicate_keys(root, path)
    try:
        document = model.model_validate(data)
    except ValidationError as exc:
        problems = list(duplicates)
        for error in exc.errors():
            loc = tuple(error["loc"])
            if error["type"] == "union_tag_invalid":
                loc = (*loc, "kind")  # point at the discriminator's own line
            if loc:
                problems.append(Problem(path, line_of(root, loc), _message(error)))
                continue
            # Cross-field problems: one per clause, at the line of the id it names.
            for clause in _message(error).split("; "):
                match = _QUOTED_ID.search(clause)
                # Not about one fault or expectation: about the document as a whole.
                line = line_of_id(root, match.group(1)) if match else 1
                problems.append(Problem(path, line, clause))
        raise ScenarioInvalid(problems) from exc
    if duplicates:
        raise ScenarioInvalid(duplicates)
    return document, root


__all__ = ["line_of", "line_of_id", "parse_document"]
