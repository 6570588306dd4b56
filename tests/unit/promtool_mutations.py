"""Rule mutations a promtool test exported from a run must catch.

Each takes the text of a (scaled) rule file and an alert name and returns the
file with that one rule broken:

* :func:`raise_threshold` — every comparison against a number in the rule's
  expression compares against 1e9 instead, far past any peak a run observed;
* :func:`always_true` — every such comparison against -1e9: the rule fires
  whenever its series exist, as a rule broken open would;
* :func:`lengthen_for` — ``for:`` of 10 minutes, longer than any fault;
* :func:`drop_label` — one label the alert carries is removed from every
  ``by (...)`` and ``on (...)`` list of the expression, so the alert no longer
  keys on it.

Rule expressions in a scaled copy are canonical one-line PromQL (written back
by the time scaler), so the edits below match that form exactly.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import yaml

_COMPARISON = re.compile(r"(>=|>|<=|<|==|!=) (-?(?:\d+(?:\.\d*)?(?:e[+-]?\d+)?|Inf|NaN))\b")
_LIST = re.compile(r"\b(by|on) \(([^)]*)\)")
Mutation = Callable[[str, str], str]


def _edit(text: str, alertname: str, change: Callable[[dict[str, Any]], None]) -> str:
    data = yaml.safe_load(text)
    found = False
    for group in data["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == alertname:
                change(rule)
                found = True
    assert found, f"no alert {alertname} in the rule file"
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1 << 20)


def _thresholds(value: str) -> Mutation:
    def mutate(text: str, alertname: str) -> str:
        def change(rule: dict[str, Any]) -> None:
            expr, count = _COMPARISON.subn(rf"\1 {value}", rule["expr"])
            assert count, f"{alertname}: no comparison against a number in {rule['expr']}"
            rule["expr"] = expr

        return _edit(text, alertname, change)

    return mutate


raise_threshold = _thresholds("1e9")
always_true = _thresholds("-1e9")


def lengthen_for(text: str, alertname: str) -> str:
    def change(rule: dict[str, Any]) -> None:
        rule["for"] = "10m"

    return _edit(text, alertname, change)


def drop_label(label: str) -> Mutation:
    def mutate(text: str, alertname: str) -> str:
        def change(rule: dict[str, Any]) -> None:
            def without(match: re.Match[str]) -> str:
                names = [n.strip() for n in match[2].split(",") if n.strip() != label]
                return f"{match[1]} ({', '.join(names)})"

            expr = _LIST.sub(without, rule["expr"])
            assert expr != rule["expr"], f"{alertname} does not key on {label}: {rule['expr']}"
            rule["expr"] = expr

        return _edit(text, alertname, change)

    return mutate


def keyed_label(expr: str, labels: dict[str, str]) -> str:
    """The label of ``labels`` the expression aggregates or matches by, other than ``job``."""
    keyed = {n.strip() for match in _LIST.finditer(expr) for n in match[2].split(",")}
    for name in sorted(labels):
        if name in keyed and name != "job":
            return name
    return "job"


__all__ = [
    "Mutation",
    "always_true",
    "drop_label",
    "keyed_label",
    "lengthen_for",
    "raise_threshold",
]
