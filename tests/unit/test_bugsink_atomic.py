"""build_once: one build per directory, crash-safe and race-safe."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from stack.bugsink.atomic import build_once, is_complete


def test_builds_once_then_reuses(tmp_path: Path) -> None:
    calls: list[Path] = []

    def build(scratch: Path) -> None:
        calls.append(scratch)
        (scratch / "payload").write_text("x")

    final = tmp_path / "thing"
    assert build_once(final, build) is True
    assert build_once(final, build) is False
    assert len(calls) == 1
    assert calls[0] != final, "built under a temporary name"
    assert (final / "payload").read_text() == "x"
    assert is_complete(final)
    assert not calls[0].exists()


def test_failed_build_leaves_nothing(tmp_path: Path) -> None:
    def build(scratch: Path) -> None:
        (scratch / "half").write_text("x")
        raise RuntimeError("pip exploded")

    final = tmp_path / "thing"
    with pytest.raises(RuntimeError, match="pip exploded"):
        build_once(final, build)
    assert not final.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["thing.lock"]


def test_incomplete_directory_is_rebuilt(tmp_path: Path) -> None:
    final = tmp_path / "thing"
    final.mkdir()
    (final / "junk").write_text("left by hand")

    def build(scratch: Path) -> None:
        (scratch / "payload").write_text("x")

    assert build_once(final, build) is True
    assert sorted(p.name for p in final.iterdir()) == [".complete", "payload"]


def test_concurrent_callers_build_exactly_once(tmp_path: Path) -> None:
    final = tmp_path / "thing"
    builds: list[int] = []
    results: list[bool] = []
    gate = threading.Barrier(6)

    def build(scratch: Path) -> None:
        builds.append(1)
        time.sleep(0.3)
        (scratch / "payload").write_text("x")

    def worker() -> None:
        gate.wait()
        results.append(build_once(final, build))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1
    assert sorted(results) == [False] * 5 + [True]
    assert is_complete(final)
