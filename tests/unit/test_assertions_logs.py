"""LogReader on a slice of the target's real log file, plus what a live writer leaves behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from assertions import BackendUnavailable, LogReader
from tests.unit.recorded.replay import recorded_log

RUN_ID = "rec-20240601-0001"


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "target.jsonl"
    path.write_bytes(recorded_log())
    return path


def test_reads_every_record_of_the_real_log(log_file: Path) -> None:
    batch = LogReader(log_file).read()

    lines = log_file.read_bytes().splitlines()
    assert len(batch.records) == len(lines)
    assert batch.skipped == 0
    assert batch.pending_bytes == 0
    assert batch.offset == log_file.stat().st_size
    started = next(r for r in batch.records if r.event == "service.started")
    assert started.level == "info"
    assert started.get("pool_max") == 10
    assert started.timestamp is not None
    assert started.timestamp.tzinfo is not None
    storm = [r for r in batch.records if r.run_id == RUN_ID and r.level == "error"]
    assert storm, "the recorded slice holds the storm's error lines"
    assert all(r.trace_id for r in storm)


def test_offsets_point_at_line_starts(log_file: Path) -> None:
    data = log_file.read_bytes()
    for record in LogReader(log_file).read().records:
        assert record.offset == 0 or data[record.offset - 1 : record.offset] == b"\n"


def test_reading_from_an_offset_continues_where_the_last_read_stopped(log_file: Path) -> None:
    reader = LogReader(log_file)
    first = reader.poll()
    assert reader.offset == first.offset
    with log_file.open("ab") as log:
        log.write(b'{"event": "after", "level": "warning"}\n')

    second = reader.poll()

    assert [r.event for r in second.records] == ["after"]
    assert second.start_offset == first.offset
    assert second.records[0].offset == first.offset
    assert reader.poll().records == []


def test_partial_last_line_waits_for_the_next_read(log_file: Path) -> None:
    reader = LogReader(log_file)
    before = reader.poll()
    with log_file.open("ab") as log:
        log.write(b'{"event": "half", "lev')

    partial = reader.poll()
    assert partial.records == []
    assert partial.pending_bytes == len(b'{"event": "half", "lev')
    assert partial.offset == before.offset

    with log_file.open("ab") as log:
        log.write(b'el": "info"}\n')
    complete = reader.poll()
    assert [(r.event, r.level) for r in complete.records] == [("half", "info")]
    assert complete.pending_bytes == 0


def test_non_json_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        b'{"event": "one"}\n'
        b"Traceback (most recent call last):\n"
        b"\n"
        b"[1, 2]\n"
        b"\xff\xfe not utf-8\n"
        b'{"event": "two"}\n'
    )

    batch = LogReader(path).read()

    assert [r.event for r in batch.records] == ["one", "two"]
    assert batch.skipped == 3
    assert batch.offset == path.stat().st_size


def test_truncated_file_restarts_at_zero(log_file: Path) -> None:
    reader = LogReader(log_file)
    reader.poll()
    log_file.write_bytes(b'{"event": "fresh"}\n')

    batch = reader.poll()

    assert batch.restarted
    assert batch.start_offset == 0
    assert [r.event for r in batch.records] == ["fresh"]


def test_size_skips_what_was_logged_before(log_file: Path) -> None:
    reader = LogReader(log_file)
    reader.offset = reader.size()
    assert reader.poll().records == []


def test_missing_file_is_backend_unavailable(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"

    with pytest.raises(BackendUnavailable) as caught:
        LogReader(missing).read()

    assert caught.value.backend == "logs"
    assert caught.value.url == str(missing)
    with pytest.raises(BackendUnavailable):
        LogReader(missing).size()
