"""``chaoslab init`` against real services: the bookshop example and the bundled document service.

Both run as real processes on real PostgreSQL. ``init`` asks them over HTTP,
writes a profile and a first scenario, ``chaoslab validate`` (a separate
process) accepts both, and every request of the proposed mix, sent to the
service, answers a status the mix expects.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from scenarios import scaffold
from scenarios.loader import load
from scenarios.profiles import load_profile
from stack import apps
from stack.ports import free_port
from stack.postgres import PostgresCluster
from tests.integration.examples.conftest import Service, start_service

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresCluster]:
    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture
def bookshop(tmp_path: Path, postgres: PostgresCluster) -> Iterator[Service]:
    """The bookshop with its pricing service, as a person starts them."""
    started: list[Service] = []
    try:
        pricing = start_service("pricing", tmp_path, {"PRICING_LATENCY_MS": "1"})
        started.append(pricing)
        env = {
            "BOOKSHOP_DATABASE_URL": postgres.dsn(),
            "BOOKSHOP_PRICING_URL": pricing.url,
            "BOOKSHOP_LOG_FILE": str(tmp_path / "bookshop.jsonl"),
            "SENTRY_DSN": "",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "",
        }
        started.append(start_service("bookshop", tmp_path, env))
        yield started[-1]
    finally:
        for service in reversed(started):
            service.stop()


@pytest.fixture
def documents(tmp_path: Path, postgres: PostgresCluster) -> Iterator[str]:
    """The bundled document service and its classifier, started alone (no lab)."""
    classifier = apps.classifier(tmp_path)
    target = apps.target(
        tmp_path,
        {
            "TARGET_DSN": postgres.dsn(),
            "TARGET_DOWNSTREAM_URL": classifier.url,
            "TARGET_LOG_FILE": str(tmp_path / "target.jsonl"),
        },
    )
    try:
        classifier.start()
        target.start()
        yield target.url
    finally:
        target.stop()
        classifier.stop()


def chaoslab_validate(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scenarios.cli", "validate", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=REPO,
    )


def send_mix(url: str, profile_path: Path) -> list[tuple[str, int]]:
    """Send each request of the profile's mix once, ``{var}`` at the low end of its range."""
    profile = load_profile(profile_path)
    lows = {name: str(low) for name, (low, _high) in profile.load.vars.items()}

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return re.sub(r"\{(\w+)\}", lambda m: lows[m.group(1)], value)
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    answered = []
    for spec in profile.load.requests:
        response = httpx.request(
            spec.method,
            url + fill(spec.path),
            json=fill(spec.json_body),
            follow_redirects=True,
            timeout=10,
        )
        assert response.status_code in spec.expect, (spec.name, response.text)
        answered.append((spec.name or spec.path, response.status_code))
    return answered


def test_init_on_the_bookshop_finds_its_probes_and_metrics(
    tmp_path: Path, bookshop: Service
) -> None:
    out = tmp_path / "chaoslab" / "bookshop"
    said: list[str] = []
    written = scaffold.init(bookshop.url, out, say=said.append)
    profile_path, scenario_path = written
    assert written == [out / "profile.yaml", out / "first-scenario.yaml"]

    checked = chaoslab_validate(profile_path, scenario_path)
    assert checked.returncode == 0, checked.stderr
    assert f"{profile_path}: ok (target profile service, 0 dependencies)" in checked.stdout
    assert f"{scenario_path}: ok (service-first, 0 faults, 2 expectations" in checked.stdout

    profile = load_profile(profile_path)
    assert profile.url == bookshop.url
    assert (profile.health.ready, profile.health.live) == ("/readyz", "/healthz")
    assert profile.metrics == ["/metrics"]
    # The bookshop has no OpenAPI document: a placeholder mix of what / answers.
    root = httpx.get(bookshop.url + "/", follow_redirects=True).status_code
    assert [(r.method, r.path, r.expect) for r in profile.load.requests] == [("GET", "/", [root])]
    assert "No OpenAPI document was found" in profile_path.read_text()
    assert send_mix(bookshop.url, profile_path) == [("GET /", root)]
    summary = "\n".join(said)
    assert "health   /readyz (ready), /healthz (live)" in summary
    assert "metrics  /metrics" in summary
    assert "openapi  none" in summary
    assert f"requests 1 (placeholder: GET / (it answered {root}))" in summary
    assert f"  chaoslab run {scenario_path}" in summary

    scenario = load(scenario_path)
    assert scenario.faults == []
    assert [e.kind for e in scenario.expectations] == ["metric", "sentry"]

    # A second init does not touch what is there; --force replaces it.
    before = profile_path.read_text()
    with pytest.raises(scaffold.InitError, match="already exist"):
        scaffold.init(bookshop.url, out, say=said.append)
    scaffold.init(bookshop.url, out, "bookshop", force=True, say=said.append)
    assert profile_path.read_text() != before
    assert load(scenario_path).profile.job_name == "bookshop"


def init_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``chaoslab init ARGS`` as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "scenarios.cli", "init", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=REPO,
    )


def test_init_on_the_document_service_proposes_its_api(tmp_path: Path, documents: str) -> None:
    out = tmp_path / "docs"
    done = init_cli(documents, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "openapi  /openapi.json" in done.stdout
    assert "requests 3 (from OpenAPI)" in done.stdout
    assert done.stderr == ""  # metrics were found: no warning

    profile_path, scenario_path = out / "profile.yaml", out / "first-scenario.yaml"
    checked = chaoslab_validate(profile_path, scenario_path)
    assert checked.returncode == 0, checked.stderr

    profile = load_profile(profile_path)
    assert profile.name == "chaoslab-target-document-service"
    assert (profile.health.ready, profile.health.live) == ("/startup", "/liveness")
    assert profile.metrics == ["/metrics"]
    assert profile.load.vars == {"document_id": (1, 50)}
    # The proposed requests work on the real service: the create body is valid (201),
    # and the document it made is there to read (id 1 on a fresh database).
    answered = dict(send_mix(documents, profile_path))
    assert answered == {
        "POST /api/documents": 201,
        "GET /api/documents": 200,
        "GET /api/documents/{document_id}": 200,
    }
    scenario = yaml.safe_load(scenario_path.read_text())
    assert scenario["expectations"][0]["query"] == 'up{job="chaoslab-target-document-service"}'

    taken = init_cli(documents, "--out", str(out))
    assert taken.returncode == 2
    assert "already exist: --force replaces them" in taken.stderr


def test_init_where_nothing_listens_exits_2(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = subprocess.run(
        [sys.executable, "-m", "scenarios.scaffold", url, "--out", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=REPO,
    )
    assert done.returncode == 2
    assert f"error: nothing answers at {url}" in done.stderr
    assert not (tmp_path / "x").exists()
