"""Game-day drills end to end on the ``chaoslab up`` stack: hidden, declared, scored, clean."""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.scenarios.conftest import UpStack

pytestmark = pytest.mark.integration

FAST = ("--at", "4s-6s", "--max-duration", "10m", "--facilitator", "ada")


def _json(text: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(text)
    return data


def _drill_file(stack: UpStack) -> Path:
    drills = stack.state_dir / "drills"
    return drills / (drills / "current").read_text().strip() / "drill.json"


def _reveal(stack: UpStack) -> dict[str, Any]:
    shown = stack.cli("drill", "reveal", "--facilitator", "--json")
    assert shown.returncode == 0, shown.stderr
    return _json(shown.stdout)


def _wait_for(stack: UpStack, ready: str, timeout: float = 90) -> dict[str, Any]:
    """The secret once ``ready`` (``fault`` started, or a ``signal`` settled) holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        secret = _reveal(stack)
        started = [s for s in secret["seen"] if s["started_at"]]
        passed = [v for v in secret["verdicts"] if v["status"] == "passed" and not v["absent"]]
        if (ready == "fault" and started) or (ready == "signal" and started and passed):
            return secret
        time.sleep(0.5)
    raise AssertionError(f"no {ready} within {timeout} s: {_reveal(stack)}")


def _declare(stack: UpStack, *args: str) -> tuple[datetime, datetime]:
    """When the declaration was made: between these two moments."""
    before = datetime.now(UTC)
    done = stack.cli("drill", "declare", *args)
    after = datetime.now(UTC)
    assert done.returncode == 0, done.stderr
    return before, after


def _delay_within(delay_s: float, when: tuple[datetime, datetime], start: datetime) -> None:
    low, high = ((moment - start).total_seconds() for moment in when)
    assert low - 0.05 <= delay_s <= high + 0.05, (delay_s, low, high)


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _clean(stack: UpStack) -> None:
    for proxy in stack.state.endpoints.proxies:
        assert stack.toxics(proxy) == [], proxy
        assert stack.proxy_enabled(proxy), proxy
    assert stack.lab_sessions() == 0
    switches = stack.switches()
    assert not switches.get("slow_query_s"), switches
    assert not switches.get("exception_rate"), switches
    status = stack.cli("status", "--json")
    assert _json(status.stdout)["faults"] == [], status.stdout


def test_a_picked_drill_stays_hidden_then_scores_two_declarations(
    up_stack: UpStack, tmp_path: Path
) -> None:
    log = Path(up_stack.state.endpoints.target_log)
    log_offset = log.stat().st_size if log.exists() else 0
    start = up_stack.cli("drill", "start", "--pick", "--from", "dependency", "--seed", "11", *FAST)
    assert start.returncode == 0, start.stdout + start.stderr
    try:
        second = up_stack.cli("drill", "start", "slow-dependency", *FAST)
        assert second.returncode == 2, second.stderr
        assert "is not over" in second.stderr, second.stderr
        secret = _wait_for(up_stack, "fault")
        fault = secret["faults"][0]
        wrong_at = _declare(
            up_stack, "the database is locked", "--by", "bo", "--signal", "metric",
            "--component", "postgres", "--kind", "lock",
        )  # fmt: skip
        hints = [up_stack.cli("drill", "hint", "--facilitator") for _ in range(3)]
        assert [h.returncode for h in hints] == [0, 0, 2], [h.stderr for h in hints]
        assert fault["component"] in hints[0].stdout
        assert fault["diagnosis"] in hints[1].stdout
        assert "both hints were given" in hints[2].stderr
        noted = up_stack.cli("drill", "note", "bo paged the database owner", "--by", "dee")
        assert noted.returncode == 0, noted.stderr
        right_at = _declare(
            up_stack, "calls to it crawl", "--by", "cy", "--signal", "trace",
            "--component", fault["component"], "--kind", fault["diagnosis"],
        )  # fmt: skip
        unknown = up_stack.cli("drill", "declare", "x", "--by", "bo", "--component", "nosuch")
        assert unknown.returncode == 2, unknown.stderr
        assert "name one of" in unknown.stderr, unknown.stderr
        status = up_stack.cli("drill", "status")
        status_json = up_stack.cli("drill", "status", "--json")
        assert status.returncode == 0
        assert "bo: the database is locked" in status.stdout
        links = _json(status_json.stdout)["links"]
        assert set(links) >= {"dashboard", "prometheus", "alertmanager", "bugsink", "traces"}
        for name in ("dashboard", "prometheus", "alertmanager", "traces", "target health"):
            answer = httpx.get(links[name], timeout=10, follow_redirects=True)
            assert answer.status_code == 200, (name, links[name])
        assert " / " in links["bugsink login"]
        secret = _wait_for(up_stack, "signal")
        # Nothing a responder can read names the scenario or its fault.
        visible = {
            "drill start": start.stdout + start.stderr,
            "drill status": status.stdout + status_json.stdout,
            "drill.json": _drill_file(up_stack).read_text(),
            "stack.json": (up_stack.state_dir / "stack.json").read_text(),
            "chaoslab status": up_stack.cli("status").stdout
            + up_stack.cli("status", "--json").stdout,
            "target log": log.read_bytes()[log_offset:].decode(errors="replace"),
            "target responses": httpx.get(up_stack.state.endpoints.target_url + "/metrics").text
            + httpx.get(up_stack.state.endpoints.target_url + "/liveness").text,
        }  # fmt: skip
        secrets = [
            secret["scenario"],
            secret["title"],
            Path(secret["source"]).name,
            "toxic",
            *(f["id"] for f in secret["faults"]),
        ]
        for where, text in visible.items():
            for word in secrets:
                assert word not in text, f"{where} reveals {word!r}"
    finally:
        end = up_stack.cli("drill", "end", "--out", str(tmp_path / "drill"))
    assert end.returncode in (0, 1), end.stdout + end.stderr
    journal = _json((tmp_path / "drill" / "drill-journal.json").read_text())
    assert journal["status"] == "scored"
    assert journal["scenario"] == secret["scenario"]
    assert journal["picked"]
    assert journal["seed"] == 11
    fault_start = _at(journal["fault_started_at"])
    assert fault_start == _at(secret["seen"][0]["started_at"])
    wrong, right = journal["declarations"]
    assert not wrong["correct"]
    assert not wrong["component_correct"]
    assert not wrong["kind_correct"]
    assert right["correct"]
    assert right["component_correct"]
    assert right["kind_correct"]
    _delay_within(wrong["delay_s"], wrong_at, fault_start)
    _delay_within(right["delay_s"], right_at, fault_start)
    run = _json((tmp_path / "drill" / "run" / "journal.json").read_text())
    detected = {v["id"]: v for v in run["expectations"] if v["status"] == "passed"}
    timed = [a for a in journal["automated"] if a["time_to_detect_s"] is not None]
    assert timed, journal["automated"]
    for signal_ in timed:
        at = _at(detected[signal_["id"]]["detected_at"])
        assert signal_["time_to_detect_s"] == pytest.approx(
            (at - fault_start).total_seconds(), abs=0.11
        )
    score = journal["score"]
    assert score["human_time_to_detect_s"] == wrong["delay_s"]
    assert score["human_time_to_diagnosis_s"] == right["delay_s"]
    assert score["diagnosed_by"] == "cy"
    assert score["hints_used"] == 2
    assert right["hints_before"] == 2
    assert not score["correct_without_hints"]
    assert [n["text"] for n in journal["notes"]] == ["bo paged the database owner"]
    assert score["fastest_automated_s"] == min(a["time_to_detect_s"] for a in timed)
    assert "## Timeline" in (tmp_path / "drill" / "review.md").read_text()
    report = (tmp_path / "drill" / "run" / "report.html").read_text()
    assert 'id="drill"' in report
    assert "calls to it crawl" in report
    assert 'id="series-team-1"' in report, "both declarations are on the timeline"
    assert "--pick --from dependency --seed 11 --at 4s-6s" in end.stdout
    _clean(up_stack)
    after = up_stack.cli("drill", "declare", "too late", "--by", "bo")
    assert after.returncode == 2
    assert "no drill is under way" in after.stderr


def test_drill_end_after_the_drill_process_was_killed_still_rolls_back_and_scores(
    up_stack: UpStack, tmp_path: Path
) -> None:
    start = up_stack.cli("drill", "start", "db-lock-contention", "--seed", "5", *FAST)
    assert start.returncode == 0, start.stdout + start.stderr
    _wait_for(up_stack, "fault")
    assert up_stack.lab_sessions() == 1  # the lock is held
    right_at = _declare(
        up_stack, "documents is locked", "--by", "bo", "--component", "postgres", "--kind", "lock"
    )
    worker = _json(_drill_file(up_stack).read_text())["worker"]
    os.kill(worker["pid"], signal.SIGKILL)
    time.sleep(1.0)
    end = up_stack.cli("drill", "end", "--out", str(tmp_path / "drill"))
    assert end.returncode in (0, 1), end.stdout + end.stderr
    assert "had died" in end.stdout
    journal = _json((tmp_path / "drill" / "drill-journal.json").read_text())
    assert journal["status"] == "scored"
    assert journal["recovered"]
    assert journal["scenario"] == "db-lock-contention"
    assert any(line.startswith("lock on documents") for line in journal["rolled_back"])
    assert any(line.startswith("stopped locust") for line in journal["rolled_back"])
    (declared,) = journal["declarations"]
    fault_start = _at(journal["fault_started_at"])
    assert declared["correct"]
    _delay_within(declared["delay_s"], right_at, fault_start)
    assert {a["id"] for a in journal["automated"]} >= {"waiters-queue"}
    assert all(a["status"] != "pending" for a in journal["automated"])
    _clean(up_stack)


def test_drill_abort_rolls_back_and_closes_the_drill(up_stack: UpStack, tmp_path: Path) -> None:
    start = up_stack.cli("drill", "start", "slow-dependency", "--seed", "2", *FAST)
    assert start.returncode == 0, start.stdout + start.stderr
    _wait_for(up_stack, "fault")
    assert up_stack.toxics("downstream"), "the toxic is in place"
    aborted = up_stack.cli("drill", "abort", "--out", str(tmp_path / "drill"))
    assert aborted.returncode == 0, aborted.stdout + aborted.stderr
    journal = _json((tmp_path / "drill" / "drill-journal.json").read_text())
    assert journal["status"] == "aborted"
    assert journal["scenario"] == "slow-dependency"
    _clean(up_stack)
    assert up_stack.cli("drill", "status").returncode == 2


def test_bad_drill_input_is_refused_and_starts_nothing(up_stack: UpStack) -> None:
    cases = {
        ("declare", "x", "--by", "bo"): "no drill is under way",
        ("start", "no-such-scenario", *FAST): "no scenario 'no-such-scenario'",
        ("start", "--pick", "--from", "no-such-tag", *FAST): "no catalog scenario tagged",
        ("start", "--pick", "slow-dependency", *FAST): "name a scenario, or",
        ("start", "slow-dependency", "--at", "soon", "--facilitator", "ada"): "--at 'soon'",
    }
    for args, message in cases.items():
        done = up_stack.cli("drill", *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert message in done.stderr, (args, done.stderr)
        assert not (up_stack.state_dir / "drills" / "current").exists(), args


def test_panic_during_a_drill_rolls_back_and_end_closes_it_unscored(
    up_stack: UpStack, tmp_path: Path
) -> None:
    start = up_stack.cli("drill", "start", "exception-storm", "--seed", "4", *FAST)
    assert start.returncode == 0, start.stdout + start.stderr
    _wait_for(up_stack, "fault")
    assert up_stack.switches().get("exception_rate"), "the app switch is on"
    panicked = up_stack.cli("panic", timeout=120)
    assert panicked.returncode == 0, panicked.stdout + panicked.stderr
    status = up_stack.cli("drill", "status")
    assert "aborted" in status.stdout, status.stdout
    end = up_stack.cli("drill", "end", "--out", str(tmp_path / "drill"))
    assert end.returncode == 3, end.stdout + end.stderr
    journal = _json((tmp_path / "drill" / "drill-journal.json").read_text())
    assert journal["status"] == "aborted"
    assert journal["scenario"] == "exception-storm"
    _clean(up_stack)
