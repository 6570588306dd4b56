"""Production alert rules in lab time: every duration in a rule file, scaled.

A team writes its rules for production (``rate(...[5m])``, ``for: 10m``); a
scenario's detection budget is well under a minute. The lab therefore loads a
rewritten copy of each rule file in which every duration that carries time is
multiplied by one scale (e.g. ``1/30``: ``[5m]`` → ``[10s]``, ``for: 10m`` →
``for: 20s``), checks the copy with ``promtool check rules`` and records the
scale in the journal.

PromQL is parsed by ``promql-parser`` (Rust bindings, no regular expressions
over query text). Its Python nodes are read-only views of the Rust tree (a
setter changes the Python attribute but neither ``prettify()`` nor
``transform()`` sees it) and their ``str()`` drops sub-second durations and
does not escape strings, so :func:`scale_expr` writes the tree back to PromQL
itself, node by node (:class:`_Writer`).

What is scaled: range selectors ``x[5m]``, subquery ranges and resolutions
``[30m:1m]``, ``offset`` (negative too), wherever they sit; in a rule file
also ``for:``, ``keep_firing_for:`` and a group's ``interval:``. What is not:
``@`` timestamps (``@ 1609746000``, ``@ start()``, ``@ end()``) and plain
numbers, even those that mean seconds (``predict_linear(x[1h], 3600)``,
``time() - x > 300``): a number carries no unit the parser could tell.

Errors are :class:`RuleScaleError` (a :class:`stack.exceptions.StackError`).
"""

from __future__ import annotations

import functools
import json
import math
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import promql_parser as pp
import yaml

from stack.alerting.component import CHECK_TIMEOUT_S, PROMETHEUS_INSTALL_HINT
from stack.exceptions import BinaryNotFound, RuleScaleError
from stack.process import run

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_STR_TAG = "tag:yaml.org,2002:str"
# A name, not query text: a label name that may stand unquoted in PromQL.
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A YAML duration value (Prometheus's model.Duration) that is zero; the parser refuses those.
_ZERO_DURATION = re.compile(r"0|(0+(ms|s|m|h|d|w|y))+")
# The binding's enums compare with == but are not all hashable: a list, not a dict.
_MATCH_OPS = (
    (pp.MatchOp.Equal, "="),
    (pp.MatchOp.NotEqual, "!="),
    (pp.MatchOp.Re, "=~"),
    (pp.MatchOp.NotRe, "!~"),
)
# Prometheus 2.x (the lab's Debian package) still has holt_winters; promql-parser
# follows Prometheus 3, which renamed it double_exponential_smoothing.
_PROMETHEUS_2_FUNCTIONS = (
    pp.Function(
        "holt_winters",
        [pp.ValueType.Matrix, pp.ValueType.Scalar, pp.ValueType.Scalar],
        pp.ValueType.Vector,
    ),
)


def parse_scale(text: str) -> Fraction:
    """``"1/30"``, ``"0.5"`` or ``"1"`` as a Fraction in (0, 1]."""
    try:
        scale = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise RuleScaleError(
            f"rule time scale {text!r} is not a number; write a fraction such as 1/30 or 0.5"
        ) from None
    if not 0 < scale <= 1:
        raise RuleScaleError(
            f"rule time scale {text!r} must be greater than 0 and at most 1 "
            "(1/30 runs production rules 30 times faster; 1 leaves them as written)"
        )
    return scale


@dataclass(frozen=True)
class _Window:
    """A range selector or subquery range after scaling: what the min-window check sees."""

    selector: str
    original: timedelta
    scaled: timedelta


def scale_expr(expr: str, scale: Fraction) -> str:
    """``expr`` with every PromQL duration multiplied by ``scale``, as PromQL text.

    Scaled: range selectors (``x[5m]``), subquery ranges and resolutions
    (``x[30m:1m]``), ``offset`` including negative ones, at any depth (function
    arguments, aggregations, binary operations, subqueries). Left alone: ``@``
    timestamps and ``@ start()``/``@ end()``, and every plain number, even one
    that means seconds (the ``3600`` of ``predict_linear(x[1h], 3600)``).
    Results are rounded to the millisecond; an offset that rounds to zero is
    dropped. The text is re-emitted from the syntax tree (one line, canonical
    spacing), with the same parentheses as the source.
    """
    return _scale(expr, scale)[0]


def _scale(expr: str, scale: Fraction) -> tuple[str, tuple[_Window, ...]]:
    if scale <= 0:
        raise RuleScaleError(f"time scale must be positive, got {scale}")
    try:
        tree = parse_promql(expr)
    except ValueError as exc:
        raise RuleScaleError(f"cannot parse PromQL {expr.strip()!r}: {exc}") from None
    writer = _Writer(scale)
    return writer.expr(tree), tuple(writer.windows)


def parse_promql(expr: str) -> pp.Expr:
    """``expr`` parsed as Prometheus 2 PromQL; ValueError (the parser's message) when it is not."""
    _register_prometheus_2_functions()
    return pp.parse(expr)


def scale_rules(text: str, scale: Fraction, *, min_window_s: float) -> str:
    """A Prometheus rule file (YAML) with every duration scaled by ``scale``.

    Scales each rule's ``expr`` (see :func:`scale_expr`), ``for:`` and
    ``keep_firing_for:``, and each group's ``interval:``; every other value
    (names, labels, annotations, record rules' names) is written back exactly
    as loaded. Comments are not kept. Raises :class:`RuleScaleError` naming the
    rule, the selector and the window when a range selector or subquery range
    would be shorter than ``min_window_s``. A ``for:`` or a subquery resolution
    may become shorter than that (neither is a window), never negative.
    """
    if scale <= 0:
        raise RuleScaleError(f"time scale must be positive, got {scale}")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise RuleScaleError(f"rule file is not valid YAML: {exc}") from None
    if root is None:
        return text
    if not isinstance(root, yaml.MappingNode):
        raise RuleScaleError("rule file must be a mapping with a `groups:` list")
    min_window = timedelta(seconds=min_window_s)
    done: set[int] = set()  # aliased nodes are shared: scale each once
    for group in _items(_value(root, "groups"), "groups"):
        group_name = _scalar_text(_value(group, "name"))
        where = f"group {group_name!r}"
        interval = _value(group, "interval")
        if interval is not None:
            _rewrite_duration(interval, scale, f"{where}: interval", done, allow_zero=False)
        for rule in _items(_value(group, "rules"), f"{where}: rules"):
            rule_where = f"{where}, {_rule_name(rule)}"
            expr = _value(rule, "expr")
            if expr is not None and id(expr) not in done:
                done.add(id(expr))
                _rewrite_expr(expr, scale, rule_where, min_window)
            for key in ("for", "keep_firing_for"):
                node = _value(rule, key)
                if node is not None:
                    _rewrite_duration(node, scale, f"{rule_where}: {key}", done, allow_zero=True)
    return yaml.serialize(root, Dumper=yaml.SafeDumper, allow_unicode=True, width=1 << 20)


def scale_rule_file(
    src: Path,
    dst: Path,
    scale: Fraction,
    *,
    scrape_interval_s: float,
    promtool: str = "promtool",
) -> None:
    """Write ``src`` scaled by ``scale`` to ``dst`` and have ``promtool check rules`` accept it.

    No window may become shorter than two scrape intervals. A rejection by
    promtool is a :class:`RuleScaleError` carrying promtool's output (``dst``
    is left in place to read); a missing promtool is ``BinaryNotFound``.
    """
    src, dst = Path(src), Path(dst)
    if scrape_interval_s <= 0:
        raise RuleScaleError(f"scrape interval must be positive, got {scrape_interval_s}")
    try:
        scaled = scale_rules(src.read_text(), scale, min_window_s=2 * scrape_interval_s)
    except RuleScaleError as exc:
        raise RuleScaleError(f"{src}: {exc}") from exc
    binary = shutil.which(promtool)
    if binary is None:
        raise BinaryNotFound(promtool, PROMETHEUS_INSTALL_HINT)
    dst.parent.mkdir(parents=True, exist_ok=True)
    header = f"# Generated by chaoslab from {src}: every duration scaled by {scale}. Do not edit.\n"
    dst.write_text(header + scaled)
    argv = [binary, "check", "rules", str(dst)]
    result = run(argv, capture_output=True, text=True, check=False, timeout=CHECK_TIMEOUT_S)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip() or "(no output)"
        indented = "\n".join(f"    {line}" for line in output.splitlines()[-40:])
        raise RuleScaleError(
            f"promtool check rules rejected {dst} ({src} scaled by {scale}):\n{indented}"
        )


# -- rule file (YAML nodes) ---------------------------------------------------


def _value(mapping: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(mapping, yaml.MappingNode):
        return None
    for key_node, value_node in mapping.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            found: yaml.Node = value_node
            return found
    return None


def _items(node: yaml.Node | None, where: str) -> list[yaml.Node]:
    if node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")):
        return []
    if not isinstance(node, yaml.SequenceNode):
        raise RuleScaleError(f"{where} must be a list")
    return list(node.value)


def _scalar_text(node: yaml.Node | None) -> str:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else "?"


def _rule_name(rule: yaml.Node) -> str:
    for kind in ("alert", "record"):
        node = _value(rule, kind)
        if node is not None:
            return f"{kind} {_scalar_text(node)!r}"
    return "unnamed rule"


def _rewrite_expr(node: yaml.Node, scale: Fraction, where: str, min_window: timedelta) -> None:
    if not isinstance(node, yaml.ScalarNode):
        raise RuleScaleError(f"{where}: expr must be a string")
    try:
        text, windows = _scale(str(node.value), scale)
    except RuleScaleError as exc:
        raise RuleScaleError(f"{where}: {exc}") from None
    for window in windows:
        if window.scaled < min_window:
            raise RuleScaleError(
                f"{where}: at scale {scale} the window {window.selector} would be "
                f"{_duration(window.scaled)} (from {_duration(window.original)}), shorter than "
                f"the minimum {_duration(min_window)} (two scrape intervals); "
                "use a larger scale or a longer window"
            )
    node.value, node.tag, node.style = text, _STR_TAG, None


def _rewrite_duration(
    node: yaml.Node, scale: Fraction, where: str, done: set[int], *, allow_zero: bool
) -> None:
    if id(node) in done or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")):
        return  # already scaled (an alias), or empty: Prometheus's default applies
    done.add(id(node))
    if not isinstance(node, yaml.ScalarNode):
        raise RuleScaleError(f"{where} must be a duration such as 5m")
    text = str(node.value).strip()
    if _ZERO_DURATION.fullmatch(text):
        original = timedelta(0)
    else:
        try:
            original = pp.parse_duration(text)
        except ValueError:
            raise RuleScaleError(f"{where}: {text!r} is not a duration such as 5m") from None
    scaled = _scale_duration(original, scale)
    if scaled <= timedelta(0) and not (allow_zero and scaled == timedelta(0)):
        raise RuleScaleError(f"{where}: {text} scaled by {scale} would be {_duration(scaled)}")
    node.value, node.tag, node.style = _duration(scaled), _STR_TAG, None


# -- PromQL writer --------------------------------------------------------------


def _scale_duration(duration: timedelta, scale: Fraction) -> timedelta:
    """``duration * scale`` rounded to the millisecond (PromQL's resolution)."""
    micros = duration // _MICROSECOND
    return timedelta(milliseconds=round(Fraction(micros, 1000) * scale))


def _duration(duration: timedelta) -> str:
    """PromQL form: ``10s``, ``1m30s``, ``500ms``, ``-5m``; zero is ``0s``."""
    if duration < timedelta(0):
        return "-" + pp.display_duration(-duration)
    return pp.display_duration(duration)


def _quote(text: str) -> str:
    """A double-quoted PromQL string (JSON's escapes are a subset of Go's)."""
    return json.dumps(text, ensure_ascii=False)


def _label(name: str) -> str:
    return name if _LABEL_NAME.fullmatch(name) else _quote(name)


def _labels(names: list[str]) -> str:
    return "(" + ", ".join(_label(name) for name in names) + ")"


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    if value == 0 and math.copysign(1.0, value) < 0:
        return "-0"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


@functools.cache
def _register_prometheus_2_functions() -> None:
    """Teach the (process-global) parser, once, the functions Prometheus 2 has and it lacks."""
    pp.register_extra_functions(list(_PROMETHEUS_2_FUNCTIONS))


class _Writer:
    """Writes a promql-parser tree back to PromQL, scaling durations on the way."""

    def __init__(self, scale: Fraction) -> None:
        self.scale = scale
        self.windows: list[_Window] = []

    def expr(self, node: pp.Expr) -> str:
        if isinstance(node, pp.NumberLiteral):
            return _number(node.val)
        if isinstance(node, pp.StringLiteral):
            return _quote(node.val)
        if isinstance(node, pp.VectorSelector):
            return self._selector_body(node) + self._at_offset(node.at, node.offset)
        if isinstance(node, pp.MatrixSelector):
            return self._matrix(node)
        if isinstance(node, pp.SubqueryExpr):
            return self._subquery(node)
        if isinstance(node, pp.Call):
            return node.func.name + "(" + ", ".join(self.expr(arg) for arg in node.args) + ")"
        if isinstance(node, pp.AggregateExpr):
            return self._aggregate(node)
        if isinstance(node, pp.BinaryExpr):
            return self._binary(node)
        if isinstance(node, pp.UnaryExpr):
            return "-" + self.expr(node.expr)
        if isinstance(node, pp.ParenExpr):
            return "(" + self.expr(node.expr) + ")"
        raise RuleScaleError(f"unsupported PromQL node {type(node).__name__}")

    # selectors and their modifiers

    def _matrix(self, node: pp.MatrixSelector) -> str:
        vs = node.vector_selector
        scaled = self._window(node.range, lambda: self._selector_body(vs) + "[...]")
        text = f"{self._selector_body(vs)}[{_duration(scaled)}]" + self._at_offset(vs.at, vs.offset)
        self.windows.append(_Window(text, node.range, scaled))
        return text

    def _subquery(self, node: pp.SubqueryExpr) -> str:
        inner = self.expr(node.expr)
        if node.range is None:  # the stub allows it; the grammar does not
            raise RuleScaleError(f"subquery {inner}[...] has no range")
        original = node.range
        scaled = self._window(original, lambda: f"{inner}[...:]")
        step = ""
        if node.step is not None:
            scaled_step = self._window(node.step, lambda: f"the resolution of {inner}[...:...]")
            step = _duration(scaled_step)
        text = f"{inner}[{_duration(scaled)}:{step}]" + self._at_offset(node.at, node.offset)
        self.windows.append(_Window(text, original, scaled))
        return text

    def _window(self, original: timedelta, what: Callable[[], str]) -> timedelta:
        scaled = _scale_duration(original, self.scale)
        if scaled <= timedelta(0):
            raise RuleScaleError(
                f"{what()}: {_duration(original)} scaled by {self.scale} would be "
                f"{_duration(scaled)}"
            )
        return scaled

    def _selector_body(self, node: pp.VectorSelector) -> str:
        matchers = node.matchers
        if matchers.or_matchers and matchers.matchers:
            raise RuleScaleError("a selector with both plain and `or` matchers is not supported")
        groups = [list(group) for group in matchers.or_matchers] or [list(matchers.matchers)]
        texts = [[_matcher(m) for m in group] for group in groups]
        name = node.name or ""  # a quoted UTF-8 name arrives as a __name__ matcher
        inner = " or ".join(", ".join(group) for group in texts)
        return name + ("{" + inner + "}" if inner or not name else "")

    def _at_offset(self, at: pp.AtModifier | None, offset: timedelta | None) -> str:
        text = ""
        if at is not None:
            text += " @ " + _at(at)
        if offset is not None:
            scaled = _scale_duration(offset, self.scale)
            if scaled != timedelta(0):  # `offset 0s` is no offset (and the parser refuses it)
                text += " offset " + _duration(scaled)
        return text

    # operations

    def _aggregate(self, node: pp.AggregateExpr) -> str:
        text = str(node.op)
        if node.modifier is not None:
            keyword = "by" if node.modifier.type == pp.AggModifierType.By else "without"
            text += f" {keyword} {_labels(node.modifier.labels)} "
        args = [self.expr(node.param)] if node.param is not None else []
        return text + "(" + ", ".join([*args, self.expr(node.expr)]) + ")"

    def _binary(self, node: pp.BinaryExpr) -> str:
        parts = [self.expr(node.lhs), str(node.op)]
        modifier = node.modifier
        if modifier is not None:
            if modifier.return_bool:
                parts.append("bool")
            if modifier.matching is not None:
                include = modifier.matching.type == pp.LabelModifierType.Include
                parts.append(
                    ("on " if include else "ignoring ") + _labels(modifier.matching.labels)
                )
            if modifier.card in (
                pp.VectorMatchCardinality.ManyToOne,
                pp.VectorMatchCardinality.OneToMany,
            ):
                side = (
                    "group_left"
                    if modifier.card == pp.VectorMatchCardinality.ManyToOne
                    else "group_right"
                )
                labels = modifier.group_labels or []
                parts.append(side + (" " + _labels(labels) if labels else ""))
            parts.extend(_fill(modifier.fill_values))
        parts.append(self.expr(node.rhs))
        return " ".join(parts)


def _fill(values: pp.VectorMatchFillValues | None) -> list[str]:
    if values is None or (values.lhs is None and values.rhs is None):
        return []
    if values.lhs is not None and values.lhs == values.rhs:
        return [f"fill ({_number(values.lhs)})"]
    parts = []
    if values.lhs is not None:
        parts.append(f"fill_left ({_number(values.lhs)})")
    if values.rhs is not None:
        parts.append(f"fill_right ({_number(values.rhs)})")
    return parts


def _at(at: pp.AtModifier) -> str:
    if at.type == pp.AtModifierType.Start:
        return "start()"
    if at.type == pp.AtModifierType.End:
        return "end()"
    try:
        moment = at.at
    except BaseException as exc:  # the binding panics on a time before 1970
        if type(exc).__name__ != "PanicException":
            raise
        raise RuleScaleError("`@` timestamps before 1970 are not supported") from None
    if moment is None:
        raise RuleScaleError("`@` modifier without a timestamp")
    micros = (moment - _EPOCH) // _MICROSECOND
    seconds, fraction = divmod(micros, 1_000_000)
    if fraction == 0:
        return str(seconds)
    return f"{seconds}.{fraction:06d}".rstrip("0")


def _matcher(matcher: pp.Matcher) -> str:
    op = next(text for op, text in _MATCH_OPS if matcher.op == op)
    return f"{_label(matcher.name)}{op}{_quote(matcher.value)}"


def durations(expr: str) -> list[timedelta]:
    """Every range, subquery range and resolution, and offset in ``expr``, in tree order."""
    found: list[timedelta] = []

    def visit(node: pp.Expr) -> None:
        if isinstance(node, pp.MatrixSelector):
            found.append(node.range)
        elif isinstance(node, pp.VectorSelector) and node.offset is not None:
            found.append(node.offset)
        elif isinstance(node, pp.SubqueryExpr):
            found.extend(d for d in (node.range, node.step, node.offset) if d is not None)

    pp.walk(pp.parse(expr), pre_visit=visit)
    return found


__all__ = [
    "RuleScaleError",
    "durations",
    "parse_scale",
    "scale_expr",
    "scale_rule_file",
    "scale_rules",
]
