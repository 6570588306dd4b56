"""``/metrics`` passes promtool's lint and never labels by raw path or id."""

from __future__ import annotations

import re
import shutil
import subprocess

import httpx
import pytest

from tests.integration.target.conftest import StartTarget

pytestmark = pytest.mark.integration


def test_metrics_pass_promtool_and_use_route_templates(start_target: StartTarget) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: install the Debian package `prometheus` (make does)"
    target = start_target()
    with httpx.Client(base_url=target.url, timeout=10) as client:
        doc = {"title": "t", "body": "b", "owner_email": "m@example.com"}
        ids = [client.post("/api/documents", json=doc).json()["id"] for _ in range(3)]
        for doc_id in [*ids, 987654]:
            client.get(f"/api/documents/{doc_id}")
        client.get("/no/such/path/12345")
        client.get("/readiness")
        text = client.get("/metrics").text

    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "", result.stdout
    assert result.stderr.strip() == "", result.stderr

    routes = set(re.findall(r'route="([^"]*)"', text))
    assert "/api/documents/{document_id}" in routes
    assert not any(re.search(r"\d{3,}", route) for route in routes), routes
    for name in (
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "http_requests_in_progress",
        "db_pool_size",
        "db_pool_max",
        "db_pool_in_use",
        "db_pool_idle",
        "db_pool_waiting",
        "db_pool_acquire_seconds_bucket",
        "db_query_duration_seconds_bucket",
        "downstream_request_duration_seconds_bucket",
        "health_check_duration_seconds_bucket",
    ):
        assert re.search(rf"^{name}[{{ ]", text, re.MULTILINE), f"{name} missing"
