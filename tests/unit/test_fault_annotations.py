"""Fault start/end posted to Grafana as annotations, and never a verdict changed by it.

No Grafana runs on these machines, so :class:`StandInGrafana` answers on
127.0.0.1 the way Grafana's annotations API is documented to answer
(``POST /api/annotations`` → ``{"message": "Annotation added", "id": N}``,
``PATCH /api/annotations/N`` → ``{"message": "Annotation patched"}``, a wrong
basic-auth login → 401 ``{"message": "Invalid username or password"}``; a
patch changes only the fields it carries), and keeps what it was sent so the
tests can read the annotations back like the dashboard's tag query would.
The runner runs in virtual time (the harness of ``test_runner_virtual_time``).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from scenarios.annotations import FAULT_TAG, FaultAnnotations, annotate_regions, epoch_ms
from scenarios.session import exit_code
from stack.grafana.dashboard import build
from stack.state import Endpoints
from tests.unit.test_runner_virtual_time import FakeStack, Harness


class StandInGrafana(ThreadingHTTPServer):
    user = "admin"
    password = "s3cret"

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.annotations: dict[int, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def tagged(self, tag: str) -> list[dict[str, Any]]:
        return [a for a in self.annotations.values() if tag in a.get("tags", [])]


class _Handler(BaseHTTPRequestHandler):
    server: StandInGrafana

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        expected = base64.b64encode(f"{self.server.user}:{self.server.password}".encode())
        if self.headers.get("Authorization", "") == "Basic " + expected.decode():
            return True
        self._answer(401, {"message": "Invalid username or password"})
        return False

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        assert isinstance(body, dict)
        return body

    def do_POST(self) -> None:
        self.server.requests.append(("POST", self.path))
        if not self._authorised():
            return
        if self.path != "/api/annotations":
            self._answer(404, {"message": "Not found"})
            return
        annotation_id = len(self.server.annotations) + 1
        body = self._body()
        body.setdefault("timeEnd", body.get("time"))
        self.server.annotations[annotation_id] = body
        self._answer(200, {"message": "Annotation added", "id": annotation_id})

    def do_PATCH(self) -> None:
        self.server.requests.append(("PATCH", self.path))
        if not self._authorised():
            return
        annotation_id = int(self.path.rsplit("/", 1)[1])
        if annotation_id not in self.server.annotations:
            self._answer(404, {"message": "Annotation not found"})
            return
        self.server.annotations[annotation_id].update(self._body())
        self._answer(200, {"message": "Annotation patched"})


@pytest.fixture
def grafana() -> Iterator[StandInGrafana]:
    server = StandInGrafana()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _stack(url: str, login: str) -> FakeStack:
    stack = FakeStack()
    stack.state.endpoints.grafana_url = url
    stack.state.endpoints.grafana_login = login
    return stack


def test_each_fault_becomes_a_region_from_its_real_start_to_its_end(
    tmp_path: Path, grafana: StandInGrafana
) -> None:
    h = Harness(tmp_path, stack=_stack(grafana.url, "admin / s3cret"))
    journal = h.run()
    assert journal.status == "passed"
    assert journal.warnings == []
    regions = grafana.tagged(FAULT_TAG)
    assert len(regions) == 2
    for record in journal.faults:
        assert record.started_at is not None
        assert record.ended_at is not None
        (region,) = grafana.tagged(f"fault:{record.id}")
        assert region["time"] == epoch_ms(record.started_at)
        assert region["timeEnd"] == epoch_ms(record.ended_at)
        assert region["tags"] == [
            FAULT_TAG,
            "scenario:virtual",
            f"fault:{record.id}",
            f"kind:{record.kind}",
        ]
        assert record.detail in region["text"]
        assert journal.run_id in region["text"]
    # One point per start, one patch per end: the end keeps the start's tags and text.
    assert [m for m, _ in grafana.requests] == ["POST", "POST", "PATCH", "PATCH"]


def test_a_fault_still_on_at_an_abort_is_closed_when_it_is_rolled_back(
    tmp_path: Path, grafana: StandInGrafana
) -> None:
    h = Harness(tmp_path, stack=_stack(grafana.url, "admin / s3cret"))
    h.injector_kwargs = {"abort_on": "second"}
    journal = h.run()
    assert journal.status == "aborted"
    (first,) = grafana.tagged("fault:first")
    assert journal.faults[0].ended_at is not None
    assert first["timeEnd"] == epoch_ms(journal.faults[0].ended_at)
    assert first["timeEnd"] > first["time"]
    assert grafana.tagged("fault:second") == []


def test_a_control_run_posts_nothing(tmp_path: Path, grafana: StandInGrafana) -> None:
    h = Harness(tmp_path, stack=_stack(grafana.url, "admin / s3cret"))
    journal = h.run(no_fault=True)
    assert journal.status == "passed"
    assert grafana.requests == []


def test_a_refused_login_is_a_warning_never_a_verdict(
    tmp_path: Path, grafana: StandInGrafana
) -> None:
    h = Harness(tmp_path, stack=_stack(grafana.url, "admin / wrong"))
    journal = h.run()
    assert journal.status == "passed"
    assert exit_code(journal) == 0
    assert grafana.annotations == {}
    # Two starts refused; the ends are not attempted for annotations that do not exist.
    assert [m for m, _ in grafana.requests] == ["POST", "POST"]
    assert len(journal.warnings) == 2
    assert "answered 401: Invalid username or password" in journal.warnings[0]
    assert "start of fault first" in journal.warnings[0]


def test_a_grafana_that_does_not_answer_is_a_warning_never_a_verdict(tmp_path: Path) -> None:
    server = StandInGrafana()
    url = server.url
    server.server_close()  # the port is closed: connection refused
    h = Harness(tmp_path, stack=_stack(url, "admin / s3cret"))
    journal = h.run()
    assert journal.status == "passed"
    assert exit_code(journal) == 0
    assert len(journal.warnings) == 2
    assert all(url in w for w in journal.warnings)


def test_a_stack_without_grafana_is_not_annotated() -> None:
    assert FaultAnnotations.for_stack(Endpoints(), scenario="s", run_id="r") is None


def test_a_drill_posts_its_faults_whole_once_they_are_over(grafana: StandInGrafana) -> None:
    endpoints = Endpoints(grafana_url=grafana.url, grafana_login="admin / s3cret")
    notes = FaultAnnotations.for_stack(endpoints, scenario="db-lock-contention", run_id="r1")
    start = datetime(2026, 12, 2, 14, 5, 59, 250000, tzinfo=UTC)
    end = start + timedelta(seconds=45)
    problems = annotate_regions(notes, [("table-lock", "db_lock", "lock held", start, end)])
    assert problems == []
    assert [m for m, _ in grafana.requests] == ["POST"]
    (region,) = grafana.tagged("fault:table-lock")
    assert (region["time"], region["timeEnd"]) == (1796220359250, 1796220404250)
    assert annotate_regions(None, [("x", "k", "d", start, end)]) == []


def test_the_dashboard_shows_the_tag_the_runner_posts() -> None:
    queries = build()["annotations"]["list"]
    tags = [q["target"]["tags"] for q in queries if q.get("name") == "Faults"]
    assert tags == [[FAULT_TAG]]
