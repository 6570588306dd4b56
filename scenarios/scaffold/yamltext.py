"""YAML text for the files init writes: PyYAML's safe dumper with a profile's layout, comments.

The data is dumped with ``yaml.safe_dump``'s dumper (nothing is hand-quoted);
comments explain the parts a person fills in.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    """``yaml.safe_dump``'s dumper, with a profile's layout: block on top, short leaves in flow."""

    def ignore_aliases(self, data: Any) -> bool:
        return True  # a value used twice is written twice, never as &anchor/*alias

    def represent(self, data: Any) -> None:
        node = self.represent_data(data)
        _layout(node, 0)
        self.serialize(node)
        self.represented_objects = {}
        self.object_keeper = []
        self.alias_key = None


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    """Text of several lines as a literal block (``|``)."""
    return dumper.represent_scalar(
        "tag:yaml.org,2002:str", data, style="|" if "\n" in data else None
    )


_Dumper.add_representer(str, _represent_str)


def _layout(node: yaml.Node, depth: int) -> None:
    """Flow style for short collections of scalars below the top level, block elsewhere."""
    if isinstance(node, yaml.MappingNode):
        children = [value for _key, value in node.value]
        width = sum(len(str(k.value)) + len(str(v.value)) + 4 for k, v in node.value)
        short = depth >= 2 and width < 60
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
        short = depth >= 1 and sum(len(str(c.value)) + 2 for c in children) < 70
    else:
        return
    leaf = all(isinstance(child, yaml.ScalarNode) for child in children)
    node.flow_style = leaf and short
    for child in children:
        _layout(child, depth + 1)


def dump(data: Mapping[str, Any]) -> str:
    """``data`` as YAML by PyYAML's safe dumper (plain data only; nothing is hand-quoted)."""
    return yaml.dump(dict(data), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def with_comment(data: Mapping[str, Any], comment_text: str) -> str:
    """``data`` dumped, the comment at the end of its line (above it when it spans lines)."""
    text = dump(data)
    if text.count("\n") == 1:
        return f"{text.rstrip()}  # {comment_text}\n"
    return f"# {comment_text}\n{text}"


def comment(text: str) -> str:
    """``text`` as YAML comment lines."""
    return "".join(f"# {line}".rstrip() + "\n" for line in text.strip("\n").splitlines())


def fill(paragraph: str) -> str:
    """``paragraph`` wrapped to the width of the comments (86), hyphenated words kept whole."""
    return textwrap.fill(paragraph, width=86, break_on_hyphens=False)


def schema_header(schema: Path, out_dir: Path) -> str:
    """The yaml-language-server line, when the schema file is there to point at."""
    if not schema.is_file():
        return ""
    try:
        relative = os.path.relpath(schema, out_dir.resolve())
    except ValueError:  # another drive
        return ""
    return f"# yaml-language-server: $schema={Path(relative).as_posix()}\n"
