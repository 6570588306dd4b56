"""A Chaos Toolkit experiment as read: every value with its JSON path, every finding with its path.

The experiment is someone else's document, walked rather than modelled: a
:class:`Node` is a value and the path that reached it (``method[2].provider.module``),
so whatever the importer cannot carry over is reported where the author wrote it.
:class:`Findings` collects, in one pass, the problems (the experiment cannot be
imported: exit 2) and the notes (carried over, with a remark worth reading).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from scenarios.importers.exceptions import ExperimentRejected, Finding

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


@dataclass(frozen=True)
class Node:
    """One value of the experiment and its JSON path (``""`` for the document itself)."""

    value: object
    path: str = ""

    def child(self, key: str | int) -> Node:
        """The value under ``key`` (None when absent), its path extended."""
        if isinstance(key, int):
            items = self.value if isinstance(self.value, list) else []
            value = items[key] if 0 <= key < len(items) else None
            return Node(value, f"{self.path}[{key}]")
        found = self.value.get(key) if isinstance(self.value, dict) else None
        part = key if _PLAIN_KEY.match(key) else json.dumps(key)
        if not _PLAIN_KEY.match(key):
            return Node(found, f"{self.path}[{part}]")
        return Node(found, f"{self.path}.{part}" if self.path else part)

    def has(self, key: str) -> bool:
        return isinstance(self.value, dict) and key in self.value

    def names(self) -> list[str]:
        return [str(k) for k in self.value] if isinstance(self.value, dict) else []

    def items(self) -> Iterator[Node]:
        """The elements of a list (nothing for any other value)."""
        if isinstance(self.value, list):
            for index in range(len(self.value)):
                yield self.child(index)

    @property
    def is_mapping(self) -> bool:
        return isinstance(self.value, dict)

    def text(self) -> str | None:
        return self.value if isinstance(self.value, str) else None

    def where(self) -> str:
        return self.path or "(the experiment)"


@dataclass
class Findings:
    """Problems (the import fails) and notes (it goes on), each at its JSON path."""

    source: Path
    problems: list[Finding] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)

    def reject(self, node: Node, message: str) -> None:
        self.problems.append(Finding(node.where(), message))

    def note(self, node: Node, message: str) -> None:
        self.notes.append(Finding(node.where(), message))

    def raise_if_any(self) -> None:
        if self.problems:
            raise ExperimentRejected(self.source, self.problems)


def read_experiment(path: Path) -> Node:
    """The experiment (JSON; YAML for ``.yaml``/``.yml``), or :class:`ExperimentRejected`."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ExperimentRejected(path, [Finding("(file)", f"cannot read: {exc.strerror}")]) from exc
    try:
        if path.suffix in (".yaml", ".yml"):
            data: object = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"(line {exc.lineno}, column {exc.colno})"
        raise ExperimentRejected(path, [Finding(where, f"not valid JSON: {exc.msg}")]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"(line {mark.line + 1})" if mark is not None else "(file)"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ExperimentRejected(path, [Finding(where, f"not valid YAML: {problem}")]) from exc
    if not isinstance(data, dict):
        raise ExperimentRejected(
            path, [Finding("(the experiment)", "an experiment is a mapping (title, method...)")]
        )
    return Node(data)


class Configuration:
    """The experiment's ``configuration``, for ``${name}`` substitution as Chaos Toolkit does it.

    Plain values substitute; an ``env`` entry substitutes its ``default`` (noted),
    and without one the value is only known when Chaos Toolkit runs: a problem
    wherever it is used. A string that is one placeholder keeps the value's type
    (``"${pause}"`` with ``pause: 5`` is the number 5).
    """

    def __init__(self, node: Node, findings: Findings) -> None:
        self._node = node
        self._findings = findings
        self.used: set[str] = set()

    def known(self, name: str, where: Node) -> bool:
        """Is ``name`` in the configuration? A problem at ``where`` when it is not."""
        if not self._node.has(name):
            self._findings.reject(where, f"${{{name}}} is not in the experiment's configuration")
            return False
        return True

    def _lookup(self, name: str, where: Node) -> tuple[bool, object]:
        entry = self._node.child(name)
        if not self.known(name, where):
            return False, None
        self.used.add(name)
        if isinstance(entry.value, dict):
            if entry.value.get("type") == "env" and "default" in entry.value:
                self._findings.note(
                    where,
                    f"${{{name}}} comes from environment variable {entry.value.get('key')!r} "
                    f"at run time; imported with its default {entry.value['default']!r}",
                )
                return True, entry.value["default"]
            self._findings.reject(
                where,
                f"${{{name}}} is only known when Chaos Toolkit runs ({entry.path} is "
                f"{json.dumps(entry.value)}); write the value, or give the entry a default",
            )
            return False, None
        return True, entry.value

    def resolve(self, node: Node) -> Node:
        """``node`` with every placeholder of a string value substituted (same path)."""
        text = node.text()
        if text is None or "${" not in text:
            return node
        whole = _PLACEHOLDER.fullmatch(text)
        if whole is not None:
            ok, value = self._lookup(whole.group(1), node)
            return Node(value if ok else None, node.path)
        failed = False

        def substitute(match: re.Match[str]) -> str:
            nonlocal failed
            ok, value = self._lookup(match.group(1), node)
            failed = failed or not ok
            return str(value)

        result = _PLACEHOLDER.sub(substitute, text)
        return Node(None if failed else result, node.path)


__all__ = ["Configuration", "Findings", "Node", "read_experiment"]
