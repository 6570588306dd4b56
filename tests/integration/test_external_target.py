"""A service the user runs themselves, on a PostgreSQL they run too.

The profile gives the bookshop's ``url`` (the lab never starts it) and a
PostgreSQL ``upstream`` with a ``dsn``. ``chaoslab up --target`` prints the
environment; the test starts the bookshop with exactly that (as a user would
after ``eval``), then runs a scenario on the attached stack: a latency toxic
on the lab-started pricing dependency, then a ``db_lock`` the lab takes on
the user's own database through the ``dsn``. Both must be detected and both
undone.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stack.ports import LOOPBACK, free_port
from stack.postgres import PostgresCluster
from stack.process import ManagedProcess
from stack.state import read_state

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bookshop"
CLI = [sys.executable, "-m", "scenarios.cli"]

PROFILE = """\
name: bookshop-by-hand
service: bookshop
url: http://127.0.0.1:{port}
env:
  BOOKSHOP_DATABASE_URL: ${{dep.db.dsn}}
  BOOKSHOP_PRICING_URL: ${{dep.pricing.url}}
  BOOKSHOP_DB_TIMEOUT_S: "1.0"
  SENTRY_DSN: ${{sentry_dsn}}
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: ${{otlp_traces_endpoint}}
health: {{ready: /readyz, live: /healthz}}
job: bookshop
dependencies:
  db: {{kind: postgres, upstream: "127.0.0.1:{pg_port}", dsn: "{dsn}"}}
  pricing:
    kind: http
    command: ["${{python}}", "-m", "pricing", "--host", "${{host}}", "--port", "${{port}}"]
    cwd: {example}
    health: /healthz
rules: {{files: [{example}/alerts/bookshop.rules.yml], time_scale: 1/30}}
load: {{locustfile: {example}/locustfile.py, user_classes: [BookshopUser]}}
"""

SCENARIO = """\
name: by-hand
title: Pricing slow, then the books table locked, on a service run by hand
target: {profile: profile.yaml}
load: {users: 6, spawn_rate: 6, duration: 40s}
faults:
  - {id: pricing-slow, kind: toxic, target: pricing, toxic: latency,
     attributes: {latency: 1500}, at: 5s, duration: 10s}
  - {id: books-locked, kind: db_lock, target: db, table: bookshop_books, at: 22s, duration: 10s}
expectations:
  - id: pricing-timeouts
    kind: metric
    query: sum(rate(bookshop_pricing_failures_total{job="bookshop", reason="timeout"}[10s]))
    op: ">"
    threshold: 0.2
    window: {fault: pricing-slow, within: 15s}
  - id: database-unavailable
    kind: sentry
    exception_type: DatabaseUnavailable
    window: {fault: books-locked, within: 15s}
grace: 10s
"""


def cli(state: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "--state-dir", str(state), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def exports(stdout: str) -> dict[str, str]:
    """The ``export K=V`` lines of ``up --target``, as a shell would read them."""
    found: dict[str, str] = {}
    for line in stdout.splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            found[key] = shlex.split(value)[0] if value else ""
    return found


@pytest.fixture
def own_postgres() -> Iterator[PostgresCluster]:
    with PostgresCluster() as cluster:
        yield cluster


def test_a_service_started_by_hand_on_its_own_database(
    tmp_path: Path, own_postgres: PostgresCluster
) -> None:
    port = free_port()
    dsn = own_postgres.dsn()
    (tmp_path / "profile.yaml").write_text(
        PROFILE.format(port=port, pg_port=own_postgres.port, dsn=dsn, example=EXAMPLE)
    )
    (tmp_path / "scenario.yaml").write_text(SCENARIO)
    state = tmp_path / "state"
    bookshop: ManagedProcess | None = None
    try:
        up = cli(state, "up", "--target", str(tmp_path / "profile.yaml"))
        assert up.returncode == 0, up.stdout + up.stderr
        env = exports(up.stdout)
        # Every dependency through the lab's proxies, nothing direct.
        recorded = read_state(state)
        assert recorded is not None
        proxies = recorded.endpoints.proxies
        assert env["BOOKSHOP_DATABASE_URL"] == dsn.replace(
            f"127.0.0.1:{own_postgres.port}", proxies["db"]
        )
        assert env["BOOKSHOP_PRICING_URL"] == f"http://{proxies['pricing']}"
        assert env["SENTRY_DSN"] == recorded.endpoints.sentry_dsn
        assert recorded.components["target"].kind == "external"

        bookshop = ManagedProcess(
            "bookshop",
            [sys.executable, "-m", "bookshop", "--host", LOOPBACK, "--port", str(port)],
            tmp_path / "bookshop.log",
            env={**os.environ, **env},
            cwd=EXAMPLE,
        )
        bookshop.start()
        ready = f"http://{LOOPBACK}:{port}/readyz"
        bookshop.wait_healthy(lambda: httpx.get(ready, timeout=1).status_code == 200, 40)

        out = tmp_path / "out"
        run = cli(state, "run", str(tmp_path / "scenario.yaml"), "--out", str(out))
        journal = json.loads((out / "journal.json").read_text())
        assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
        assert journal["stack_owned"] is False
        assert journal["target_profile"] == "bookshop-by-hand"
        assert [f["id"] for f in journal["faults"]] == ["pricing-slow", "books-locked"]
        assert journal["rollback_errors"] == []
        # The lock was taken on the user's own database and is gone.
        status = json.loads(cli(state, "status", "--json").stdout)
        assert status["faults"] == []
    finally:
        if bookshop is not None:
            bookshop.stop()
        cli(state, "panic", timeout=120)
        cli(state, "down", timeout=120)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (state / "stack.json").exists():
        time.sleep(0.2)
    assert not (state / "stack.json").exists()
