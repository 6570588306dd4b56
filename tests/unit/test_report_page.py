"""report.html rendered from recorded real run directories (no stack, no browser)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from scenarios.journal import Journal
from scenarios.report import (
    REPORT_FILE,
    ReportError,
    empty_panels,
    plotted_points,
    render_report,
    replay_command,
    waterfall_rows,
)
from scenarios.report.rundir import read_run_dir

RUNS = Path(__file__).parent / "recorded" / "runs"
ALL_RUNS = sorted(p.name for p in RUNS.iterdir() if (p / "journal.json").is_file())
WITH_EVIDENCE = [name for name in ALL_RUNS if (RUNS / name / "evidence.json").is_file()]
SECTIONS = ("run", "timeline", "expectations", "faults", "trace", "sentry", "load", "alerts")
MAX_BYTES = 2 * 1024 * 1024
_URL = re.compile(r"https?://[^\s\"'<>)]+")


def _rendered(name: str, tmp_path: Path) -> tuple[Journal, str, Path]:
    run_dir = tmp_path / name
    shutil.copytree(RUNS / name, run_dir)
    path = render_report(run_dir)
    journal = Journal.model_validate_json((run_dir / "journal.json").read_text())
    return journal, path.read_text(encoding="utf-8"), path


def _row(html: str, row_id: str) -> str:
    match = re.search(rf'<tr[^>]*id="{re.escape(row_id)}"[^>]*>(.*?)</tr>', html, re.DOTALL)
    assert match is not None, f"no row {row_id}"
    return match.group(1)


def _cells(row: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", c).strip()
        for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)
    ]


def test_recorded_runs_are_there() -> None:
    assert len(ALL_RUNS) >= 3
    assert WITH_EVIDENCE


@pytest.mark.parametrize("name", ALL_RUNS)
def test_every_section_is_present(name: str, tmp_path: Path) -> None:
    journal, html, path = _rendered(name, tmp_path)
    assert path == tmp_path / name / REPORT_FILE
    for section in SECTIONS:
        assert f'id="{section}"' in html, section
    assert journal.run_id in html
    assert f"{journal.wall_time_s:.3f} s" in html
    assert f'id="replay">{replay_command(journal)}</code>' in html
    assert replay_command(journal).startswith(
        f"chaoslab run {journal.scenario} --seed {journal.seed}"
    )
    assert "<svg" in html


@pytest.mark.parametrize("name", ALL_RUNS)
def test_expectation_numbers_equal_the_journal(name: str, tmp_path: Path) -> None:
    journal, html, _ = _rendered(name, tmp_path)
    judged = {j.id: j for j in journal.control.judgements} if journal.control else {}
    for verdict in journal.expectations:
        cells = _cells(_row(html, f"exp-{verdict.id}"))
        assert cells[0] == verdict.id
        assert cells[1] == verdict.kind
        ttd = "—" if verdict.time_to_detect_s is None else f"{verdict.time_to_detect_s:.3f} s"
        assert cells[6] == ttd
        assert cells[7] == verdict.status
        if verdict.id in judged:
            assert cells[8].startswith(judged[verdict.id].judgement)


@pytest.mark.parametrize("name", ALL_RUNS)
def test_load_windows_equal_the_journal(name: str, tmp_path: Path) -> None:
    journal, html, _ = _rendered(name, tmp_path)
    windows = journal.load.windows
    for window, figures in (
        ("before", windows.before),
        ("during", windows.during),
        ("after", windows.after),
        ("whole", journal.load),
    ):
        cells = _cells(_row(html, f"load-{window}"))
        assert cells[1:3] == [str(figures.requests), str(figures.failures)]
        assert cells[4] == f"{figures.rps:.2f}"
        assert cells[5:8] == [
            f"{v:.1f} ms" for v in (figures.p50_ms, figures.p95_ms, figures.p99_ms)
        ]


@pytest.mark.parametrize("name", ALL_RUNS)
def test_the_page_is_small_and_asks_for_nothing_remote(name: str, tmp_path: Path) -> None:
    _, html, path = _rendered(name, tmp_path)
    assert path.stat().st_size < MAX_BYTES
    run = read_run_dir(tmp_path / name)
    bugsink = run.evidence.bugsink_url.rstrip("/") if run.evidence else ""
    for url in _URL.findall(html):
        assert bugsink, url
        assert url.startswith(bugsink), url
    assert "<script" not in html
    assert not re.search(r"""(?:src|href)=["'](?!#|data:|load/|http)""", html)
    assert "default-src 'none'" in html


@pytest.mark.parametrize("name", ALL_RUNS)
def test_no_plot_is_empty(name: str, tmp_path: Path) -> None:
    _, html, _ = _rendered(name, tmp_path)
    points = plotted_points(html)
    assert {"rps", "latency", "errors", "detections"} <= set(points)
    assert empty_panels(html) == []


@pytest.mark.parametrize("name", WITH_EVIDENCE)
def test_signals_are_plotted_from_the_evidence(name: str, tmp_path: Path) -> None:
    _, html, _ = _rendered(name, tmp_path)
    run = read_run_dir(tmp_path / name)
    assert run.evidence is not None
    points = plotted_points(html)
    plotted = sum(
        1 for recorded in run.evidence.series if recorded.result and recorded.result.series
    )
    assert sum(1 for panel in points if panel.startswith("metric-")) == plotted
    if run.evidence.alerts and run.evidence.alerts.series:
        assert points["alerts"] > 0


def test_empty_panel_is_detected() -> None:
    svg = (
        '<svg><g id="panel-a"><g id="series-x"><path d="M 0 0 L 1 1 L 2 2"/></g></g>'
        '<g id="panel-b"><g id="series-y"><path d="M 0 0"/></g></g>'
        '<g id="panel-c"><g id="series-z"></g><path d="M 0 0 L 5 5"/></g></svg>'
    )
    assert plotted_points(svg) == {"a": 3, "b": 1, "c": 0}
    assert empty_panels("<html><body>" + svg + "</body></html>") == ["c"]


@pytest.mark.parametrize("name", WITH_EVIDENCE)
def test_slowest_trace_waterfall(name: str, tmp_path: Path) -> None:
    _, html, _ = _rendered(name, tmp_path)
    run = read_run_dir(tmp_path / name)
    trace = run.evidence.slowest_trace if run.evidence else None
    assert trace is not None, "every recorded run with evidence has traces of its fault window"
    rows = waterfall_rows(trace)
    assert len(rows) == len(trace.spans)
    assert rows[0].depth == 0
    assert rows[0].left_pct == 0.0
    assert all(0.0 <= r.left_pct <= 100.0 and r.width_pct > 0 for r in rows)
    assert html.count('class="wf-row') == len(trace.spans)
    for row in rows:
        assert f"{row.duration_ms:.1f} ms" in html
    assert html.count("wf-row wf-error") == len(trace.errors)


@pytest.mark.parametrize("name", WITH_EVIDENCE)
def test_sentry_issues_link_to_bugsink(name: str, tmp_path: Path) -> None:
    _, html, _ = _rendered(name, tmp_path)
    run = read_run_dir(tmp_path / name)
    assert run.evidence is not None
    for issue in run.evidence.sentry_issues:
        cells = _cells(_row(html, f"sentry-{issue.short_id or issue.id}"))
        assert cells[3] == str(issue.event_count)
        assert f"/issues/issue/{issue.id}/event/last/" in html


def test_control_column_only_with_a_control_run(tmp_path: Path) -> None:
    with_control = [n for n in ALL_RUNS if (RUNS / n / "control" / "journal.json").is_file()]
    assert with_control
    _, html, _ = _rendered(with_control[0], tmp_path)
    assert "<th>control run</th>" in html
    assert 'id="load-control"' in html
    without = [n for n in ALL_RUNS if n not in with_control]
    if without:
        _, html, _ = _rendered(without[0], tmp_path)
        assert "<th>control run</th>" not in html


def test_locust_report_is_linked_relatively(tmp_path: Path) -> None:
    _, html, _ = _rendered(ALL_RUNS[0], tmp_path)
    assert "locust.html" not in html
    (tmp_path / ALL_RUNS[0] / "load" / "locust.html").write_text("<html></html>")
    html = render_report(tmp_path / ALL_RUNS[0]).read_text()
    assert '<a href="load/locust.html">' in html


def test_a_run_without_evidence_says_so(tmp_path: Path) -> None:
    name = next(n for n in ALL_RUNS if n not in WITH_EVIDENCE)
    _, html, _ = _rendered(name, tmp_path)
    assert "no evidence.json" in html


def test_journal_path_is_accepted_and_the_write_is_atomic(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(RUNS / ALL_RUNS[0], run_dir)
    path = render_report(run_dir / "journal.json")
    assert path == run_dir / REPORT_FILE
    assert not list(run_dir.glob(".report.html-*"))


def test_no_journal_is_a_report_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="cannot read the journal"):
        render_report(tmp_path)
    (tmp_path / "journal.json").write_text("{}")
    with pytest.raises(ReportError, match="not a chaoslab journal"):
        render_report(tmp_path)
