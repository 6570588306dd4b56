"""The responders' dashboard generator: panels, ``$job``, escaping for Jinja and Go, files.

The served page (Prometheus expanding the generated Go template) is tested in
``tests/integration/test_dashboard_console.py``; here the generated text is
read with a small Go-template tokenizer, so a profile value that leaked into
template text (where Go would execute it) fails a test.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import promql_parser as pp
import pytest
from pydantic import ValidationError

from scenarios.exceptions import ScenarioInvalid
from scenarios.profiles import load_profile
from stack.consoles import CONSOLE_FILE, Consoles, Links, panels_of, render_console, write_consoles
from stack.consoles.dashboard import environment
from stack.profile import DEFAULT_PROFILE, DashboardPanel, TargetProfile, read_profile
from target_app import metrics

REPO = Path(__file__).resolve().parents[2]
BOOKSHOP_PROFILE = REPO / "examples" / "bookshop" / "profile.yaml"
EVIL_TITLE = 'Ratio "5xx" {{ template "x" }} }} </script><script>document.title=1</script>'
EVIL_QUERY = 'sum(rate(http_requests_total{job="$job", note!="{{ . }} \\\\ \'"}[15s]))'
LINKS = Links("http://127.0.0.1:9093", "http://127.0.0.1:8000", "http://127.0.0.1:4318")


def profile(dashboard: list[dict[str, Any]] | None = None, job: str = "shop") -> TargetProfile:
    document: dict[str, Any] = {
        "name": "shop",
        "service": "shop",
        "url": "http://127.0.0.1:8080",
        "job": job,
        "load": {"requests": [{"path": "/"}]},
    }
    if dashboard is not None:
        document["dashboard"] = dashboard
    return TargetProfile.model_validate(document)


def go_template(text: str) -> tuple[list[str], list[str]]:
    """``(actions, plain text)`` of a Go template (a literal in an action may hold ``}}``)."""
    actions: list[str] = []
    plain: list[str] = []
    position = 0
    while (start := text.find("{{", position)) != -1:
        plain.append(text[position:start])
        index = start + 2
        if text.startswith("/*", index):  # a comment runs to */}}
            end = text.index("*/}}", index) + 4
            actions.append(text[start:end])
            position = end
            continue
        while not text.startswith("}}", index):
            if text[index] == '"':
                index += 1
                while text[index] != '"':
                    index += 2 if text[index] == "\\" else 1
            elif text[index] == "`":
                index = text.index("`", index + 1)
            index += 1
        actions.append(text[start : index + 2])
        position = index + 2
    plain.append(text[position:])
    return actions, plain


def string_literals(actions: list[str]) -> list[str]:
    """Every Go string literal in ``actions``, decoded."""
    found = []
    for action in actions:
        for literal in re.findall(r'"(?:[^"\\]|\\.)*"', action):
            found.append(json.loads(literal))
    return found


def selectors(query: str) -> set[str]:
    names: set[str] = set()

    def visit(node: pp.Expr) -> None:
        if isinstance(node, pp.VectorSelector) and node.name:
            names.add(node.name)

    pp.walk(pp.parse(query), pre_visit=visit)
    return names


# -- the profile model -------------------------------------------------------------------


def test_job_is_replaced_in_every_place_and_only_as_a_whole_word() -> None:
    query = 'sum(rate(x_total{job="$job"}[15s])) / sum(up{job="$job", jobs="$jobs"})'
    [panel] = panels_of(profile([{"title": "Ratio", "query": query, "unit": "ratio"}]))

    assert panel.query == 'sum(rate(x_total{job="shop"}[15s])) / sum(up{job="shop", jobs="$jobs"})'
    assert (panel.title, panel.unit, panel.description) == ("Ratio", "ratio", "")


def test_a_job_with_quotes_and_backslashes_stays_one_promql_string() -> None:
    shop = profile([{"title": "Up", "query": 'up{job="$job"}'}], job='a"b\\c')

    [panel] = panels_of(shop)

    assert panel.query == 'up{job="a\\"b\\\\c"}'
    tree = pp.parse(panel.query)
    assert isinstance(tree, pp.VectorSelector)
    [selector] = [m for m in tree.matchers.matchers if m.name == "job"]
    assert selector.value == 'a"b\\c'


def test_the_job_defaults_to_the_profile_name() -> None:
    shop = TargetProfile.model_validate(
        {
            "name": "bookshelf",
            "service": "s",
            "url": "http://127.0.0.1:1",
            "load": {"requests": [{"path": "/"}]},
            "dashboard": [{"title": "Up", "query": 'up{job="$job"}'}],
        }
    )
    assert [p.query for p in panels_of(shop)] == ['up{job="bookshelf"}']


def test_without_a_dashboard_the_page_has_the_scrape_health_panel() -> None:
    [panel] = panels_of(profile())

    assert panel.title == "Scrape health"
    assert panel.query == 'up{job="shop"}'


@pytest.mark.parametrize(
    ("panel", "message"),
    [
        ({"title": "Up", "query": 'up{job="${job}"}'}, "dashboard panels take no placeholders"),
        ({"title": "${name}", "query": "up"}, "dashboard panels take no placeholders"),
        ({"title": "Rate", "query": "rate(up[15s]"}, "not PromQL"),
        ({"title": "Up", "query": "up{job=$job}"}, "not PromQL"),
        ({"title": "Up", "query": "up", "unit": "parsecs"}, "Input should be"),
        ({"title": "", "query": "up"}, "at least 1 character"),
        ({"title": "Up", "query": "up", "colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_panels_are_rejected(panel: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        profile([panel])


def test_prometheus_2_functions_are_promql() -> None:
    panel = DashboardPanel(title="Smoothed", query="holt_winters(up[5m], 0.5, 0.5)")
    assert panel.query_for("x") == "holt_winters(up[5m], 0.5, 0.5)"


def test_a_bad_query_is_reported_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "profile.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            name: shop
            service: shop
            url: http://127.0.0.1:8080
            load: {requests: [{path: /}]}
            dashboard:
              - title: Up
                query: up
              - title: Broken
                query: sum(rate(up[15s])
            """
        )
    )
    with pytest.raises(ScenarioInvalid) as info:
        load_profile(path)
    [problem] = info.value.problems
    assert problem.line == 9
    assert "not PromQL" in problem.message


# -- the generated page -----------------------------------------------------------------


def test_every_panel_query_goes_to_the_graph_and_the_value() -> None:
    shop = profile(
        [
            {"title": "Rate", "query": 'sum(rate(x_total{job="$job"}[15s]))', "unit": "req/s"},
            {"title": "Latency", "query": "histogram_quantile(0.99, x_bucket)", "unit": "s"},
        ]
    )

    text = render_console(shop, LINKS)

    actions, _ = go_template(text)
    for index, query in enumerate(
        ['sum(rate(x_total{job="shop"}[15s]))', "histogram_quantile(0.99, x_bucket)"]
    ):
        literal = json.dumps(query)
        assert f"{{{{ $query := {literal} }}}}" in text
        assert f'chaoslab.panel({{graph: "graph-{index}", value: "value-{index}", ' in text
        assert f'id="value-{index}"' in text
    assert '{{ "req/s" }}' in text
    assert '{{ "s" }}' in text
    assert text.count("expr: {{ $query }}") == 2
    assert "graph-2" not in text
    assert any('query "ALERTS' in action for action in actions)


def test_profile_text_only_ever_enters_as_go_string_literals() -> None:
    shop = profile(
        [{"title": EVIL_TITLE, "query": EVIL_QUERY, "description": "{{ . }} [[ x ]] [% y %]"}],
        job="sh{{op",
    )

    text = render_console(shop, LINKS)

    actions, plain = go_template(text)
    literals = string_literals(actions)
    assert EVIL_TITLE in literals
    assert EVIL_QUERY.replace("$job", "sh{{op") in literals
    assert "{{ . }} [[ x ]] [% y %]" in literals
    for fragment in ("</script><script>", 'template "x"', "sh{{op", "[[ x ]]", "{{ . }}"):
        assert all(fragment not in segment for segment in plain), fragment
    for delimiter in ("[[", "]]", "[%", "%]", "[#", "#]"):
        assert all(delimiter not in segment for segment in plain), delimiter


def test_the_page_names_the_target_and_links_the_stack() -> None:
    text = render_console(read_profile(DEFAULT_PROFILE), LINKS)

    literals = string_literals(go_template(text)[0])
    assert "documents" in literals
    assert 'up{job="target"}' in literals
    assert {
        "http://127.0.0.1:9093/#/alerts",
        "http://127.0.0.1:9093/api/v2/alerts",
        "http://127.0.0.1:8000",
        "http://127.0.0.1:4318/search",
        "/graph",
    } <= set(literals)


def test_links_of_missing_components_are_left_out() -> None:
    text = render_console(profile(), Links(traces_url="http://127.0.0.1:4318"))

    assert 'id="link-traces"' in text
    assert 'id="link-prometheus"' in text
    assert 'id="link-alertmanager"' not in text
    assert 'id="link-alertmanager-api"' not in text
    assert 'id="link-bugsink"' not in text


def test_a_value_that_skips_the_go_filter_is_refused() -> None:
    with pytest.raises(TypeError, match="unescaped"):
        environment().from_string("<h1>{{ [[ title ]] }}</h1>").render(title="x")
    with pytest.raises(jinja2.UndefinedError):
        environment().from_string("[[ missing|go ]]").render()


def test_write_consoles_writes_the_page_and_its_library(tmp_path: Path) -> None:
    consoles = write_consoles(tmp_path / "prometheus", profile(), LINKS)

    assert consoles == Consoles(
        tmp_path / "prometheus" / "consoles", tmp_path / "prometheus" / "console_libraries"
    )
    assert consoles.page == consoles.templates / CONSOLE_FILE
    assert consoles.page.read_text() == render_console(profile(), LINKS)
    library = (consoles.libraries / "chaoslab.lib").read_text()
    for define in ("chaoslab_head", "chaoslab_script", "chaoslab_alert_row"):
        assert f'{{{{ define "{define}" }}}}' in library
    loaded = re.findall(r'(?:src|href)="\{\{ pathPrefix \}\}([^"]+)"', library)
    assert "/classic/static/js/prom_console.js" in loaded
    assert not [url for url in loaded if "d3.layout" in url or "popper" in url]
    assert Consoles.url("http://127.0.0.1:9090/") == "http://127.0.0.1:9090/consoles/chaoslab.html"


def test_the_library_script_holds_no_template_action() -> None:
    library = (REPO / "stack" / "consoles" / "chaoslab.lib").read_text()
    script = library.split('{{ define "chaoslab_script" }}', 1)[1].split("{{ end }}", 1)[0]

    assert "{{" not in script
    assert "`" not in script  # html/template refuses actions in JS template literals


# -- the bundled profiles ----------------------------------------------------------------


def documents_metric_names() -> set[str]:
    names = set()
    for family in metrics.REGISTRY.collect():
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}
        names |= {family.name + s for s in suffixes.get(family.type, [""])}
    snapshot = metrics.PoolSnapshot(size=1, max_size=1, in_use=0, idle=1, waiting=0)
    names |= {family.name for family in metrics.PoolCollector(lambda: snapshot).collect()}
    return names


def bookshop_metric_names() -> set[str]:
    source = (REPO / "examples" / "bookshop" / "bookshop" / "metrics.py").read_text()
    names = set()
    for kind, name in re.findall(r'(Counter|Histogram|Gauge)\(\s*"([a-z_]+)"', source):
        suffixes = {"Histogram": ["_bucket", "_count", "_sum"]}.get(kind, [""])
        names |= {name + s for s in suffixes}
    return names


@pytest.mark.parametrize(
    ("path", "exported", "titles"),
    [
        (
            DEFAULT_PROFILE,
            documents_metric_names,
            {"Request rate", "Error ratio (5xx)", "Latency p50 / p95 / p99", "Pool connections"},
        ),
        (
            BOOKSHOP_PROFILE,
            bookshop_metric_names,
            {"Request rate", "Error ratio (5xx)", "Pricing latency p95", "Database errors"},
        ),
    ],
)
def test_bundled_dashboards_query_metrics_their_service_exports(
    path: Path, exported: Callable[[], set[str]], titles: set[str]
) -> None:
    shop = read_profile(path)
    names = exported()

    assert titles <= {panel.title for panel in shop.dashboard}
    for panel in panels_of(shop):
        used = selectors(panel.query)
        assert used, panel.title
        assert used <= names, f"{panel.title}: {sorted(used - names)} not exported"
        assert f'job="{shop.job_name}"' in panel.query, panel.title
