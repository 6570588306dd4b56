"""What the loaded alert rules read: their selectors, windows and ``for:``, from the rule files.

PromQL is parsed with ``promql-parser`` (the parser the time scaler uses,
Prometheus 2 functions included), never with regular expressions: every
vector selector of every rule expression, whether it stands alone or inside
a range selector or subquery, names a series the rules read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import promql_parser as pp
import yaml

from scenarios.export.exceptions import ExportError
from stack.alerting.timescale import durations, parse_promql

# A duration value that is zero (`0`, `0s`, `0m0s`): the PromQL parser refuses those.
_ZERO_DURATION = re.compile(r"0|(0+(ms|s|m|h|d|w|y))+")
_MATCH_OPS = (
    (pp.MatchOp.Equal, "="),
    (pp.MatchOp.NotEqual, "!="),
    (pp.MatchOp.Re, "=~"),
    (pp.MatchOp.NotRe, "!~"),
)


@dataclass(frozen=True)
class AlertRule:
    """One alerting rule as loaded: its name, expression, ``for:`` and templates."""

    name: str
    expr: str
    for_s: float
    labels: dict[str, str]
    annotations: dict[str, str]


def alert_rules(text: str, where: str = "rule file") -> list[AlertRule]:
    """Every alerting rule of a rule file (YAML text); recording rules are skipped."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ExportError(f"{where} is not valid YAML: {exc}") from None
    rules: list[AlertRule] = []
    for group in data.get("groups") or []:
        for rule in group.get("rules") or []:
            if "alert" not in rule:
                continue
            for_text = str(rule.get("for") or "0s").strip()
            try:
                for_s = 0.0 if _ZERO_DURATION.fullmatch(for_text) else _seconds(for_text)
            except ValueError:
                raise ExportError(f"{where}: alert {rule['alert']}: bad for: {for_text}") from None
            rules.append(
                AlertRule(
                    name=str(rule["alert"]),
                    expr=str(rule["expr"]),
                    for_s=for_s,
                    labels={str(k): str(v) for k, v in (rule.get("labels") or {}).items()},
                    annotations={
                        str(k): str(v) for k, v in (rule.get("annotations") or {}).items()
                    },
                )
            )
    return rules


def _seconds(text: str) -> float:
    return float(pp.parse_duration(text).total_seconds())


def selectors(expr: str) -> list[str]:
    """Every vector selector ``expr`` reads, as PromQL (``name{label="value", ...}``), deduplicated.

    Offsets and ``@`` modifiers are dropped: the selector names the series; when
    they are read is the recording's business.
    """
    try:
        tree = parse_promql(expr)
    except ValueError as exc:
        raise ExportError(f"cannot parse PromQL {expr.strip()!r}: {exc}") from None
    found: list[str] = []

    def visit(node: pp.Expr) -> None:
        if isinstance(node, pp.VectorSelector):
            text = _selector(node)
            if text not in found:
                found.append(text)

    pp.walk(tree, pre_visit=visit)
    return found


def _selector(node: pp.VectorSelector) -> str:
    matchers = list(node.matchers.matchers)
    if node.matchers.or_matchers:
        raise ExportError("a selector with `or` matchers is not supported")
    parts = []
    for matcher in matchers:
        op = next(text for op, text in _MATCH_OPS if matcher.op == op)
        parts.append(f"{matcher.name}{op}{json.dumps(matcher.value, ensure_ascii=False)}")
    name = node.name or ""
    return name + ("{" + ", ".join(parts) + "}" if parts or not name else "")


def longest_window_s(rules: list[AlertRule]) -> float:
    """The longest range, subquery or offset any rule uses, in seconds (0 when none)."""
    windows = [abs(d) for rule in rules for d in durations(rule.expr)]
    return max(windows, default=timedelta(0)).total_seconds()


def read_rule_files(paths: list[Path]) -> list[AlertRule]:
    return [rule for path in paths for rule in alert_rules(path.read_text(), str(path))]


__all__ = ["AlertRule", "alert_rules", "longest_window_s", "read_rule_files", "selectors"]
