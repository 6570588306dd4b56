"""A profile's own load: a request mix in YAML, or a Locust file that knows nothing of the lab.

Real Locust processes against a small recording HTTP server: every request
must carry the run's ``X-Chaoslab-Run`` header (added by the lab's hooks,
whatever the user classes are), the mix's templates must be filled from its
``vars`` and its weights respected, and an unexpected status must count as a
failure.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from scenarios.load import LoadRun
from scenarios.loader import parse
from scenarios.loadmodel import LoadSpec
from scenarios.runner import load_source

pytestmark = pytest.mark.integration


@dataclass
class Seen:
    requests: list[tuple[str, str, str | None, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def handler(seen: Seen) -> type[BaseHTTPRequestHandler]:
    class Recorder(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with seen.lock:
                seen.requests.append(
                    (self.command, self.path, self.headers.get("X-Chaoslab-Run"), body)
                )
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            del format, args

    return Recorder


@pytest.fixture
def server() -> Iterator[tuple[str, Seen]]:
    seen = Seen()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler(seen))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


PROFILE = """\
name: recorder
service: recorder
url: http://127.0.0.1:1
load:
  {load}
"""
SCENARIO = """\
name: load-only
title: Load only
target: {profile: profile.yaml}
load: {users: 4, spawn_rate: 4, duration: 4s, wait_min: 50ms, wait_max: 100ms}
expectations:
  - {id: quiet, kind: sentry, absent: true}
"""


def spec_for(folder: Path, load_yaml: str, run_id: str) -> LoadSpec:
    (folder / "profile.yaml").write_text(PROFILE.replace("{load}", load_yaml))
    scenario = parse(SCENARIO, folder / "scenario.yaml")
    settings = scenario.load
    return LoadSpec(
        run_id=run_id,
        duration_s=settings.duration,
        users=settings.users,
        spawn_rate=settings.spawn_rate,
        wait_min_s=settings.wait_min,
        wait_max_s=settings.wait_max,
        **load_source(scenario),
    )


def run_load(spec: LoadSpec, url: str, out: Path) -> LoadRun:
    run = LoadRun(spec, url, out)
    run.start()
    outcome = run.wait()
    assert outcome.exit_code == 0, run.out_dir
    assert not outcome.timed_out
    return run


def test_a_declared_request_mix_runs_with_filled_templates_and_weights(
    tmp_path: Path, server: tuple[str, Seen]
) -> None:
    url, seen = server
    mix = (
        "requests:\n"
        "    - {method: GET, path: '/items/{item}', weight: 4}\n"
        "    - {method: POST, path: /orders, json: {item: '{item}', n: 1}, expect: [201]}\n"
        "  vars: {item: [3, 7]}"
    )
    spec = spec_for(tmp_path, mix, "mix-run-1")
    run = run_load(spec, url, tmp_path / "load")

    assert seen.requests, "the mix sent nothing"
    assert {header for _m, _p, header, _b in seen.requests} == {"mix-run-1"}
    gets = [p for m, p, _h, _b in seen.requests if m == "GET"]
    posts = [json.loads(b) for m, _p, _h, b in seen.requests if m == "POST"]
    assert gets
    assert posts
    assert {p.rsplit("/", 1)[1] for p in gets} <= {"3", "4", "5", "6", "7"}
    assert {post["item"] for post in posts} <= {"3", "4", "5", "6", "7"}
    assert all(post["n"] == 1 for post in posts)
    assert len(gets) > 2 * len(posts), (len(gets), len(posts))  # weights 4:1
    # The server answers 200 where the mix expects 201: each POST is a failure.
    records = run.records()
    failed = Counter(r.name for r in records if not r.ok)
    assert failed == Counter(
        {"POST /orders": len([r for r in records if r.name == "POST /orders"])}
    )


def test_a_foreign_locustfile_gets_the_run_header_through_the_hooks(
    tmp_path: Path, server: tuple[str, Seen]
) -> None:
    url, seen = server
    (tmp_path / "shop_users.py").write_text(
        "from locust import HttpUser, constant, task\n\n\n"
        "class ShopUser(HttpUser):\n"
        "    wait_time = constant(0.05)\n\n"
        "    @task\n"
        "    def browse(self) -> None:\n"
        "        self.client.get('/shop', headers={'X-Own': '1'})\n\n\n"
        "class IdleUser(HttpUser):\n"
        "    wait_time = constant(0.05)\n\n"
        "    @task\n"
        "    def idle(self) -> None:\n"
        "        self.client.get('/idle')\n"
    )
    spec = spec_for(tmp_path, "locustfile: shop_users.py\n  user_classes: [ShopUser]", "own-1")
    run = run_load(spec, url, tmp_path / "load")

    assert seen.requests
    assert {path for _m, path, _h, _b in seen.requests} == {"/shop"}  # only the chosen class
    assert {header for _m, _p, header, _b in seen.requests} == {"own-1"}
    assert run.figures().requests > 0
