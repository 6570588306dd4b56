"""Production alert rules in lab time (``stack.alerting.timescale``).

Every PromQL construct that carries a duration is scaled, everything else is
left as written: checked with exact strings, by re-parsing the result with the
same parser (the Rust syntax tree's debug dump is compared whole), and by
``promtool check rules`` on the bundled rule file and on synthetic production
rules.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from fractions import Fraction
from pathlib import Path

import promql_parser as pp
import pytest
import yaml

from stack.alerting import BUNDLED_RULE_SCALE
from stack.alerting.timescale import (
    durations,
    parse_scale,
    scale_expr,
    scale_rule_file,
    scale_rules,
)
from stack.exceptions import BinaryNotFound, RuleScaleError, StackError

REPO_ROOT = Path(__file__).resolve().parents[2]
ALERTS_FILE = REPO_ROOT / "compose" / "prometheus" / "alerts.yml"
LAB = Fraction(1, 30)

# (production expression, the same at 1/30): one line per construct.
SCALED = [
    # range vectors, compound and sub-second results
    ('rate(x{job="a"}[5m])', 'rate(x{job="a"}[10s])'),
    ("increase(x[45m])", "increase(x[1m30s])"),
    ("rate(x[1d])", "rate(x[48m])"),
    ("rate(x[1m])", "rate(x[2s])"),
    ("rate(x[10s])", "rate(x[333ms])"),
    # subquery range and resolution, and a subquery without resolution
    ("max_over_time(rate(x[5m])[30m:1m])", "max_over_time(rate(x[10s])[1m:2s])"),
    ("max_over_time(x[30m:])", "max_over_time(x[1m:])"),
    ("min_over_time((a + b)[1h:5m])", "min_over_time((a + b)[2m:10s])"),
    # offset on vectors, ranges and subqueries, negative too
    ("x offset 5m", "x offset 10s"),
    ("x offset -5m", "x offset -10s"),
    ("rate(x[5m] offset 1h)", "rate(x[10s] offset 2m)"),
    ("rate(x[5m] offset -30m)", "rate(x[10s] offset -1m)"),
    ("max_over_time(x[30m:1m] offset 1h)", "max_over_time(x[1m:2s] offset 2m)"),
    ("x - x offset 1d", "x - x offset 48m"),
    # inside functions: seconds given as a number are not durations
    ("predict_linear(x[1h], 3600) < 0", "predict_linear(x[2m], 3600) < 0"),
    ("predict_linear(x[6h], 4 * 3600)", "predict_linear(x[12m], 4 * 3600)"),
    (
        "histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))",
        "histogram_quantile(0.99, sum by (le) (rate(x_bucket[10s])))",
    ),
    (
        "histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))",
        "histogram_quantile(0.9, sum by (le) (rate(x_bucket[10s])))",
    ),
    ('absent_over_time(up{job="a"}[10m])', 'absent_over_time(up{job="a"}[20s])'),
    ("quantile_over_time(0.9, x[15m])", "quantile_over_time(0.9, x[30s])"),
    ("holt_winters(x[30m], 0.5, 0.5)", "holt_winters(x[1m], 0.5, 0.5)"),
    (
        'label_replace(rate(x[5m]), "dst", "$1", "src", "(.*)")',
        'label_replace(rate(x[10s]), "dst", "$1", "src", "(.*)")',
    ),
    ("time() - x > 300", "time() - x > 300"),
    # aggregations and binary operations keep every modifier
    (
        "sum without (pod) (rate(a[5m])) / ignoring (code) group_left (team) b",
        "sum without (pod) (rate(a[10s])) / ignoring (code) group_left (team) b",
    ),
    (
        "topk(3, sum by (job) (rate(a[5m]))) > bool on (job) group_right c",
        "topk(3, sum by (job) (rate(a[10s]))) > bool on (job) group_right c",
    ),
    ('count_values("v", x) unless on () -y', 'count_values("v", x) unless on () -y'),
    # @ timestamps and @ start()/end() are absolute: untouched
    ("x @ 1609746000", "x @ 1609746000"),
    ("x @ 1609746000.5 offset 5m", "x @ 1609746000.5 offset 10s"),
    ("rate(x[5m] @ start())", "rate(x[10s] @ start())"),
    ("max_over_time(x[30m:1m] @ end() offset -5m)", "max_over_time(x[1m:2s] @ end() offset -10s)"),
]

# Every node type and modifier the writer knows, for the re-parse checks.
CORPUS = [
    *(production for production, _ in SCALED),
    'x{a="b", c!="d", e=~"f.*", g!~"h|i"}',
    '{__name__=~"job:.*", a="b"}',
    "job:rate5m:sum{a='single'}",
    'x{a="quote\\" backslash\\\\ newline\\n tab\\t é"}',
    'x{a=~"dot\\\\.and\\\\d+"}',
    '"string"',
    "-x ^ 2 + --y",
    "2 ^ -1 - 1e-07 * 0x1F + Inf - NaN",
    "((a + b)) * (c)",
    "a and b or c unless d",
    "a atan2 b % c",
    "sum by () (x) + sum without () (y)",
    "quantile without (a) (0.9, x) + limitk(2, y)",
    "vector(1) + scalar(x)",
    "sort_desc(x)",
    "a == bool b",
    "a + on (x, y) group_left () b",
    "x offset 1m30s",
    "rate(x[1m30s] offset 500ms)",
    "x @ 1609746000.123",
    "x * -0",
    # Prometheus 3 syntax the parser knows: kept as written (promtool 2 would refuse it)
    '{"my.metric", "my.label"="x"} + sum by ("my.label") (y)',
    "a + fill (0) b",
    "a + on (x) fill_left (1) fill_right (2) b",
    'x{a="b" or c="d"}',
]


def _same_tree(left: str, right: str) -> bool:
    """Same syntax tree: the parser's debug dump shows every field of every node."""
    return repr(pp.parse(left)) == repr(pp.parse(right))


_durations = durations


# -- scale_expr ------------------------------------------------------------------


@pytest.mark.parametrize(("production", "lab"), SCALED)
def test_scale_expr_exact(production: str, lab: str) -> None:
    assert scale_expr(production, LAB) == lab


@pytest.mark.parametrize("expr", CORPUS)
def test_identity_scale_rebuilds_the_same_tree(expr: str) -> None:
    assert _same_tree(scale_expr(expr, Fraction(1)), expr)


@pytest.mark.parametrize("expr", CORPUS)
def test_scaling_there_and_back_changes_nothing_else(expr: str) -> None:
    """Down by 1/4 and up by 4 again: only durations moved, and all came back."""
    there = scale_expr(expr, Fraction(1, 4))
    assert not _same_tree(there, expr) or not _durations(expr)
    assert _same_tree(scale_expr(there, Fraction(4)), expr)


@pytest.mark.parametrize("expr", CORPUS)
def test_every_duration_is_scaled(expr: str) -> None:
    scale = Fraction(1, 3)
    expected = [
        timedelta(milliseconds=round(Fraction(d // timedelta(microseconds=1), 1000) * scale))
        for d in _durations(expr)
    ]
    assert _durations(scale_expr(expr, scale)) == expected


def test_at_timestamps_survive_exactly() -> None:
    scaled = pp.parse(scale_expr("rate(x[5m] @ 1609746000.123 offset 1m)", LAB))
    assert isinstance(scaled, pp.Call)
    selector = scaled.args[0].vector_selector
    assert selector.at.at.timestamp() == pytest.approx(1609746000.123, abs=1e-6)
    assert selector.offset == timedelta(seconds=2)


def test_offset_that_rounds_to_zero_is_dropped() -> None:
    assert scale_expr("x offset 1ms", Fraction(1, 30)) == "x"


def test_window_that_rounds_to_zero_is_refused() -> None:
    with pytest.raises(RuleScaleError, match="would be 0s"):
        scale_expr("rate(x[10ms])", Fraction(1, 30))


def test_unparsable_expression_is_a_rule_scale_error() -> None:
    with pytest.raises(RuleScaleError, match="cannot parse PromQL"):
        scale_expr("rate(x[5m]", LAB)


def test_timestamp_before_1970_is_refused() -> None:
    with pytest.raises(RuleScaleError, match="before 1970"):
        scale_expr("x @ -10", LAB)


@pytest.mark.parametrize("scale", [Fraction(0), Fraction(-1, 30)])
def test_scale_expr_rejects_non_positive_scale(scale: Fraction) -> None:
    with pytest.raises(RuleScaleError, match="positive"):
        scale_expr("rate(x[5m])", scale)


def test_rule_scale_error_is_a_stack_error() -> None:
    assert issubclass(RuleScaleError, StackError)


# -- parse_scale -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scale"),
    [("1/30", Fraction(1, 30)), (" 0.5 ", Fraction(1, 2)), ("1", Fraction(1)), ("2/60", LAB)],
)
def test_parse_scale(text: str, scale: Fraction) -> None:
    assert parse_scale(text) == scale


@pytest.mark.parametrize("text", ["0", "-1/30", "0.0", "2", "30/1", "1.5"])
def test_parse_scale_rejects_out_of_range(text: str) -> None:
    with pytest.raises(RuleScaleError, match="greater than 0 and at most 1"):
        parse_scale(text)


@pytest.mark.parametrize("text", ["", "abc", "1/0", "1:30", "nan"])
def test_parse_scale_rejects_non_numbers(text: str) -> None:
    with pytest.raises(RuleScaleError, match="not a number"):
        parse_scale(text)


# -- scale_rules -------------------------------------------------------------------

PRODUCTION_RULES = """\
# a team's production rules
groups:
  - name: api
    interval: 1m
    rules:
      - record: job:http_errors:rate5m
        expr: sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))
        labels:
          window: 5m
      - alert: ErrorBudgetBurn
        expr: |
          job:http_errors:rate5m
            / on (job)
          sum by (job) (rate(http_requests_total[1h])) > 0.01
        for: 10m
        keep_firing_for: 5m
        labels:
          severity: critical
          page: yes
          code: 0x1F
        annotations:
          summary: "Burning budget on {{ $labels.job }} over [5m]"
          runbook_url: https://runbooks.example/error-budget
      - alert: DiskFull
        expr: predict_linear(node_filesystem_free_bytes[6h], 4 * 3600) < 0
        for: 0s
  - name: no-interval
    rules:
      - alert: Flapping
        expr: changes(up[15m]) > 3
        for: 1m
"""


def _rules(text: str) -> list[dict[str, object]]:
    document = yaml.safe_load(text)
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_scale_rules_scales_expr_for_keep_firing_for_and_interval() -> None:
    scaled = yaml.safe_load(scale_rules(PRODUCTION_RULES, LAB, min_window_s=2))
    api, other = scaled["groups"]
    assert api["interval"] == "2s"
    record, burn, disk = api["rules"]
    assert record["expr"] == 'sum by (job) (rate(http_requests_total{code=~"5.."}[10s]))'
    assert burn["expr"] == (
        "job:http_errors:rate5m / on (job) sum by (job) (rate(http_requests_total[2m])) > 0.01"
    )
    assert (burn["for"], burn["keep_firing_for"]) == ("20s", "10s")
    assert disk["expr"] == "predict_linear(node_filesystem_free_bytes[12m], 4 * 3600) < 0"
    assert disk["for"] == "0s"
    assert "interval" not in other
    assert other["rules"][0] == {"alert": "Flapping", "expr": "changes(up[30s]) > 3", "for": "2s"}


def test_scale_rules_keeps_everything_else_as_loaded() -> None:
    """Names, labels (YAML 1.1 `yes` and `0x1F` included) and annotations are untouched."""
    before = _rules(PRODUCTION_RULES)
    after = _rules(scale_rules(PRODUCTION_RULES, LAB, min_window_s=2))
    scaled_keys = {"expr", "for", "keep_firing_for"}
    for old, new in zip(before, after, strict=True):
        assert {k: v for k, v in old.items() if k not in scaled_keys} == {
            k: v for k, v in new.items() if k not in scaled_keys
        }
        assert set(old) == set(new)
    text = scale_rules(PRODUCTION_RULES, LAB, min_window_s=2)
    assert "page: yes" in text
    assert "code: 0x1F" in text
    assert "window: 5m" in text


def test_scale_rules_at_one_keeps_the_bundled_file_meaning() -> None:
    source = ALERTS_FILE.read_text()
    before, after = _rules(source), _rules(scale_rules(source, Fraction(1), min_window_s=2))
    assert len(before) == len(after) > 0
    for old, new in zip(before, after, strict=True):
        assert _same_tree(str(new["expr"]), str(old["expr"]))
        assert {k: v for k, v in old.items() if k != "expr"} == {
            k: v for k, v in new.items() if k != "expr"
        }


def test_for_may_drop_below_the_minimum_window() -> None:
    text = "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: rate(x[5m]) > 0\n    for: 30s\n"
    scaled = _rules(scale_rules(text, LAB, min_window_s=2))
    assert scaled[0]["for"] == "1s"


def test_refuses_a_window_shorter_than_the_minimum() -> None:
    text = (
        "groups:\n- name: g\n  rules:\n"
        "  - alert: Fine\n    expr: rate(x[5m]) > 0\n"
        '  - alert: TooShort\n    expr: rate(x[5m]) > 0 and rate(y{a="b"}[30s]) > 0\n'
    )
    with pytest.raises(RuleScaleError) as caught:
        scale_rules(text, LAB, min_window_s=2)
    message = str(caught.value)
    assert "'TooShort'" in message
    assert "group 'g'" in message
    assert 'y{a="b"}[1s]' in message
    assert "would be 1s (from 30s)" in message
    assert "minimum 2s" in message


def test_refuses_a_subquery_range_shorter_than_the_minimum() -> None:
    text = "groups:\n- name: g\n  rules:\n  - record: r\n    expr: max_over_time(x[30s:1s])\n"
    with pytest.raises(RuleScaleError, match=r"record 'r'.*x\[1s:33ms\].*would be 1s"):
        scale_rules(text, LAB, min_window_s=2)


def test_a_window_equal_to_the_minimum_is_accepted() -> None:
    text = "groups:\n- name: g\n  rules:\n  - record: r\n    expr: rate(x[1m])\n"
    assert "rate(x[2s])" in scale_rules(text, LAB, min_window_s=2)


def test_scale_rules_names_the_rule_whose_expr_does_not_parse() -> None:
    text = "groups:\n- name: g\n  rules:\n  - alert: Broken\n    expr: rate(x[5m]\n"
    with pytest.raises(RuleScaleError, match=r"alert 'Broken'.*cannot parse"):
        scale_rules(text, LAB, min_window_s=2)


def test_scale_rules_rejects_a_bad_for() -> None:
    text = "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    for: soon\n"
    with pytest.raises(RuleScaleError, match="alert 'A': for: 'soon' is not a duration"):
        scale_rules(text, LAB, min_window_s=2)


def test_durations_typed_or_quoted_in_yaml_come_back_as_plain_strings() -> None:
    text = (
        "groups:\n- name: g\n  interval: '2m'\n  rules:\n"
        '  - alert: A\n    expr: up == 0\n    for: 0\n    keep_firing_for: "1m"\n'
    )
    scaled = scale_rules(text, LAB, min_window_s=2)
    assert "!!" not in scaled
    group = yaml.safe_load(scaled)["groups"][0]
    assert group["interval"] == "4s"
    assert (group["rules"][0]["for"], group["rules"][0]["keep_firing_for"]) == ("0s", "2s")


def test_empty_rule_file_is_returned_as_is() -> None:
    assert scale_rules("# nothing yet\n", LAB, min_window_s=2) == "# nothing yet\n"


# -- scale_rule_file (promtool) -------------------------------------------------------


def _smallest_window_s(path: Path) -> Fraction:
    windows = [
        Fraction(d // timedelta(milliseconds=1), 1000)
        for rule in _rules(path.read_text())
        for d in _durations(str(rule["expr"]))
        if d > timedelta(0)
    ]
    assert windows, f"{path} has no range selector"
    return min(windows)


@pytest.fixture(scope="module")
def promtool() -> str:
    """promtool's absence fails the test (never skips it), as in test_alert_rules."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not on PATH: install the Debian package `prometheus`")
    return path


def test_bundled_rules_at_scale_one_pass_promtool(tmp_path: Path, promtool: str) -> None:
    dst = tmp_path / "alerts.yml"
    scale_rule_file(ALERTS_FILE, dst, Fraction(1), scrape_interval_s=1, promtool=promtool)
    assert dst.read_text().startswith("# Generated by chaoslab from ")


def test_bundled_rules_at_the_lab_scale_pass_promtool(tmp_path: Path, promtool: str) -> None:
    """The bundled file is written in production windows; the lab loads it at 1/30."""
    dst = tmp_path / "alerts.yml"
    scale_rule_file(ALERTS_FILE, dst, BUNDLED_RULE_SCALE, scrape_interval_s=1, promtool=promtool)
    assert _smallest_window_s(dst) == _smallest_window_s(ALERTS_FILE) * BUNDLED_RULE_SCALE


@pytest.mark.parametrize(("scrape_interval_s", "accepted"), [(4, True), (5, False)])
def test_the_minimum_window_is_two_scrape_intervals(
    tmp_path: Path, promtool: str, scrape_interval_s: int, accepted: bool
) -> None:
    """[4m] at 1/30 is 8 s: enough at a 4 s scrape interval, not at 5 s (minimum 10 s)."""
    src = tmp_path / "team.yml"
    src.write_text("groups:\n- name: g\n  rules:\n  - record: r\n    expr: rate(x[4m])\n")
    dst = tmp_path / "out.yml"
    if accepted:
        scale_rule_file(src, dst, LAB, scrape_interval_s=scrape_interval_s, promtool=promtool)
        assert "rate(x[8s])" in dst.read_text()
    else:
        with pytest.raises(RuleScaleError, match=r"would be 8s .*minimum 10s \(two scrape"):
            scale_rule_file(src, dst, LAB, scrape_interval_s=scrape_interval_s, promtool=promtool)


def test_bundled_rules_scaled_to_valid_windows_pass_promtool(tmp_path: Path, promtool: str) -> None:
    """The largest scale that makes the shortest window 4 s (twice the 2 s minimum)."""
    smallest = _smallest_window_s(ALERTS_FILE)
    scale = min(Fraction(1, 2), Fraction(4) / smallest)
    dst = tmp_path / "alerts.yml"
    scale_rule_file(ALERTS_FILE, dst, scale, scrape_interval_s=1, promtool=promtool)
    assert _smallest_window_s(dst) == smallest * scale


def test_bundled_rules_refused_when_a_window_gets_too_short(tmp_path: Path, promtool: str) -> None:
    smallest = _smallest_window_s(ALERTS_FILE)
    dst = tmp_path / "alerts.yml"
    with pytest.raises(RuleScaleError, match="two scrape intervals") as caught:
        scale_rule_file(
            ALERTS_FILE, dst, Fraction(1) / smallest, scrape_interval_s=1, promtool=promtool
        )
    assert str(ALERTS_FILE) in str(caught.value)
    assert not dst.exists()


def test_production_rules_in_lab_time_pass_promtool(tmp_path: Path, promtool: str) -> None:
    src = tmp_path / "team.yml"
    src.write_text(PRODUCTION_RULES)
    dst = tmp_path / "scaled" / "team.yml"
    scale_rule_file(src, dst, Fraction(1, 7), scrape_interval_s=1, promtool=promtool)
    burn = _rules(dst.read_text())[1]
    assert burn["for"] == "1m25s714ms"  # 10m / 7, to the millisecond, in PromQL's form


def test_promtool_rejection_carries_its_message(tmp_path: Path, promtool: str) -> None:
    src = tmp_path / "bad.yml"
    src.write_text("groups:\n- name: g\n  rules:\n  - record: not a metric name\n    expr: up\n")
    dst = tmp_path / "out.yml"
    with pytest.raises(RuleScaleError, match="promtool check rules rejected") as caught:
        scale_rule_file(src, dst, LAB, scrape_interval_s=1, promtool=promtool)
    assert "invalid recording rule name" in str(caught.value)
    assert str(dst) in str(caught.value)


def test_missing_promtool_is_binary_not_found(tmp_path: Path) -> None:
    src = tmp_path / "team.yml"
    src.write_text(PRODUCTION_RULES)
    with pytest.raises(BinaryNotFound):
        scale_rule_file(
            src, tmp_path / "out.yml", LAB, scrape_interval_s=1, promtool="no-such-promtool"
        )
