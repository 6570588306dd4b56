"""Per-window load figures from a synthetic request log (no Locust involved)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from scenarios.load import (
    RequestLogTail,
    read_history,
    read_request_log,
)
from scenarios.loadmodel import (
    LoadFigures,
    LoadSpec,
    RequestRecord,
    merge_intervals,
    percentile,
    run_span,
    split_windows,
    window_figures,
)

HEADER = "ts,method,name,response_time_ms,ok,status,error\n"
T0 = 1_700_000_000.0


def line(started: float, ms: float, ok: bool = True, name: str = "/api/documents/{id}") -> str:
    status, error = (200, "") if ok else (503, "CatchResponseError")
    return f"{started:.6f},GET,{name},{ms:.3f},{int(ok)},{status},{error}\n"


def write_log(path: Path, lines: list[str]) -> None:
    path.write_text(HEADER + "".join(lines))


def record(started: float, ms: float, ok: bool = True) -> RequestRecord:
    return RequestRecord(started, "GET", "/x", ms, ok, 200 if ok else 500, "" if ok else "E")


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 95) == 0.0


def test_window_figures_count_rate_and_percentiles(tmp_path: Path) -> None:
    # 100 requests, one every 0.1 s, taking 1..100 ms; every tenth one failed
    lines = [line(T0 + i * 0.1, i + 1, ok=(i % 10 != 9)) for i in range(100)]
    write_log(tmp_path / "requests-1.csv", lines)
    records = read_request_log(tmp_path)
    whole = window_figures(records, T0, T0 + 20)
    assert whole == LoadFigures(
        requests=100, failures=10, rps=5.0, p50_ms=50.0, p95_ms=95.0, p99_ms=99.0
    )


def test_requests_belong_to_the_window_they_finished_in() -> None:
    slow = record(T0 + 9.0, 2_000.0)  # sent at 9 s, finished at 11 s
    fast = record(T0 + 9.5, 10.0)
    first, second = (
        window_figures([slow, fast], T0, T0 + 10),
        window_figures([slow, fast], T0 + 10, T0 + 20),
    )
    assert (first.requests, first.p99_ms) == (1, 10.0)
    assert (second.requests, second.p99_ms) == (1, 2_000.0)


def test_empty_windows_give_zeros_not_errors(tmp_path: Path) -> None:
    write_log(tmp_path / "requests-1.csv", [line(T0, 5)])
    records = read_request_log(tmp_path)
    assert window_figures(records, T0 + 100, T0 + 200) == LoadFigures()
    assert window_figures(records, T0 + 5, T0 + 5) == LoadFigures()
    assert window_figures([], T0, T0 + 1) == LoadFigures()
    assert read_request_log(tmp_path / "missing") == []
    assert run_span([]) == (0.0, 0.0)


def test_worker_logs_are_merged_and_bad_lines_skipped(tmp_path: Path) -> None:
    write_log(tmp_path / "requests-11.csv", [line(T0 + 1, 10), "garbage\n", line(T0 + 3, 30)])
    write_log(tmp_path / "requests-12.csv", [line(T0 + 2, 20), "1.0,GET,/x,notanumber,1,200,\n"])
    (tmp_path / "locust_stats.csv").write_text("not,a,request,log\n")
    records = read_request_log(tmp_path)
    assert [r.response_time_ms for r in records] == [10.0, 20.0, 30.0]


def test_windows_before_during_and_after_the_faults() -> None:
    records = [record(T0 + i, 10.0 if i < 10 or i >= 20 else 500.0) for i in range(30)]
    span = run_span(records)
    faults = [(T0 + 10, T0 + 15), (T0 + 14, T0 + 20)]  # overlapping: one active stretch
    windows = split_windows(records, span, faults)
    assert windows.before.requests == 10
    assert windows.during.requests == 10
    assert windows.during.p50_ms == 500.0
    assert windows.during.rps == 1.0
    assert windows.after.requests == 10
    assert windows.after.p99_ms == 10.0
    total = windows.before.requests + windows.during.requests + windows.after.requests
    assert total == window_figures(records, *span).requests == 30


def test_gap_between_faults_is_not_counted_as_during() -> None:
    records = [record(T0 + i, 1.0) for i in range(30)]
    windows = split_windows(records, run_span(records), [(T0 + 5, T0 + 10), (T0 + 20, T0 + 25)])
    assert windows.during.requests == 10
    assert windows.during.rps == 1.0
    assert windows.before.requests == 5
    assert windows.after.requests == 5


def test_no_faults_puts_everything_before() -> None:
    records = [record(T0 + i, 1.0) for i in range(5)]
    windows = split_windows(records, run_span(records), [])
    assert windows.before.requests == 5
    assert windows.during == LoadFigures()
    assert windows.after == LoadFigures()


def test_merge_intervals_drops_empty_ones() -> None:
    assert merge_intervals([(5, 5), (3, 4), (1, 2), (1.5, 3)]) == [(1, 4)]


def test_tail_reads_only_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "requests-7.csv"
    path.write_text(HEADER + line(T0, 10) + "1700000001.0,GET,/x,2")
    tail = RequestLogTail(tmp_path)
    assert tail.poll() == 1
    with path.open("a") as stream:
        stream.write("0.000,1,200,\n" + line(T0 + 2, 30))
    assert tail.poll() == 2
    assert tail.poll() == 0
    assert [r.response_time_ms for r in tail.records] == [10.0, 20.0, 30.0]


def test_live_figures_cover_the_last_seconds(tmp_path: Path) -> None:
    now = T0 + 100
    lines = [line(now - 20 + i * 0.5, 10.0, ok=(i % 4 != 0)) for i in range(40)]
    write_log(tmp_path / "requests-1.csv", lines)
    tail = RequestLogTail(tmp_path)
    tail.poll()
    live = tail.live(window_s=5.0, now=now)
    assert live.requests == 10
    assert live.rps == 2.0
    assert live.error_rate == pytest.approx(0.2)
    assert live.p95_ms == 10.0
    early = tail.live(window_s=60.0, now=now)
    assert early.window_s == pytest.approx(20.0)  # the load ran for 20 s only
    assert early.requests == 40


def test_live_figures_of_nothing() -> None:
    live = RequestLogTail(Path("/nonexistent")).live(window_s=5.0, now=T0)
    assert (live.requests, live.rps, live.p95_ms, live.error_rate) == (0, 0.0, 0.0, 0.0)


HISTORY = """\
Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,Total Min Response Time,Total Max Response Time,Total Average Content Size
1795687586,0,,Aggregated,0.000000,0.000000,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,0,0,0,0.0,0,0,0
1795687587,5,GET,/api/documents,0.000000,0.000000,0,0,0,0,0,0,0,0,0,0,0,8,0,6,6.04,4.68,8.18,3152.1
1795687588,5,,Aggregated,37.000000,1.000000,8,18,19,19,23,27,29,29,29,29,29,74,2,7,13.98,3.42,73.04,2164.2
"""  # noqa: E501 - a verbatim Locust 2.47 history header


def test_history_keeps_the_aggregated_rows(tmp_path: Path) -> None:
    path = tmp_path / "locust_stats_history.csv"
    path.write_text(HISTORY)
    first, second = read_history(path)
    assert (first.users, first.p95_ms, first.total_requests) == (0, None, 0)
    assert (second.ts, second.users, second.rps, second.failures_per_s) == (
        1795687588.0,
        5,
        37.0,
        1.0,
    )
    assert (second.p50_ms, second.p95_ms, second.p99_ms) == (8.0, 27.0, 29.0)
    assert (second.total_requests, second.total_failures) == (74, 2)
    assert read_history(tmp_path / "missing.csv") == []


@pytest.mark.parametrize(
    "fields",
    [
        {"run_id": "has space"},
        {"duration_s": 0},
        {"users": -1},
        {"wait_min_s": 1.0, "wait_max_s": 0.5},
        {"shape": {"kind": "spike", "spike_users": 5, "at_s": 30, "for_s": 1}},
        {"shape": {"kind": "wobble"}},
        {"shape": {"kind": "replay", "path": "c.csv", "time_scale": 0}},
        {"weights": {"create": 0, "get": 0, "list": 0, "reprocess": 0}},
        {"workers": -1},
        {"expect_workers": -1},
        {"surprise": True},
    ],
)
def test_spec_rejects_nonsense(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        LoadSpec.model_validate({"run_id": "r1", "duration_s": 30, **fields})
