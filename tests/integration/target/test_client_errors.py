"""Client mistakes get a 4xx with detail, never a 5xx."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.integration.target.conftest import CHAOS_TOKEN, StartTarget, read_log_when

pytestmark = pytest.mark.integration

VALID = {"title": "t", "body": "b", "owner_email": "a@example.com"}

CASES: list[tuple[str, str, str, dict[str, object], int]] = [
    # (id, method, path, request kwargs, expected status)
    ("bad-json", "POST", "/api/documents", {"content": b"{not json"}, 422),
    ("not-an-object", "POST", "/api/documents", {"json": [1, 2]}, 422),
    ("missing-field", "POST", "/api/documents", {"json": {"title": "t"}}, 422),
    ("wrong-type", "POST", "/api/documents", {"json": {**VALID, "title": 5}}, 422),
    ("bad-email", "POST", "/api/documents", {"json": {**VALID, "owner_email": "nope"}}, 422),
    ("empty-title", "POST", "/api/documents", {"json": {**VALID, "title": ""}}, 422),
    ("nul-in-body", "POST", "/api/documents", {"json": {**VALID, "body": "a\x00b"}}, 422),
    (
        "lone-surrogate",
        "POST",
        "/api/documents",
        {
            "content": b'{"title":"\\ud800","body":"b","owner_email":"a@example.com"}',
            "headers": {"content-type": "application/json"},
        },
        422,
    ),
    ("extra-field", "POST", "/api/documents", {"json": {**VALID, "admin": True}}, 422),
    ("oversized", "POST", "/api/documents", {"json": {**VALID, "body": "x" * 300_000}}, 413),
    ("unknown-id", "GET", "/api/documents/999999", {}, 404),
    ("id-not-int", "GET", "/api/documents/abc", {}, 422),
    ("id-too-big", "GET", "/api/documents/99999999999999999999", {}, 422),
    ("id-zero", "GET", "/api/documents/0", {}, 422),
    ("reprocess-unknown", "POST", "/api/documents/999999/reprocess", {}, 404),
    ("bad-cursor", "GET", "/api/documents?cursor=garbage", {}, 400),
    ("limit-too-big", "GET", "/api/documents?limit=1000", {}, 422),
    ("limit-not-int", "GET", "/api/documents?limit=x", {}, 422),
    ("unknown-route", "GET", "/api/nothing", {}, 404),
    ("wrong-method", "DELETE", "/api/documents", {}, 405),
    ("chaos-no-token", "GET", "/admin/chaos", {}, 403),
    (
        "chaos-bad-value",
        "PATCH",
        "/admin/chaos",
        {"json": {"exception_rate": 3}, "headers": {"X-Chaos-Token": CHAOS_TOKEN}},
        422,
    ),
    (
        "chaos-unknown-switch",
        "PATCH",
        "/admin/chaos",
        {"json": {"nope": 1}, "headers": {"X-Chaos-Token": CHAOS_TOKEN}},
        422,
    ),
]


def test_client_mistakes_get_4xx_with_detail(start_target: StartTarget) -> None:
    target = start_target()
    failures = []
    with httpx.Client(base_url=target.url, timeout=10) as client:
        for case_id, method, path, kwargs, expected in CASES:
            response = client.request(method, path, **kwargs)  # type: ignore[arg-type] # kwargs are httpx's own
            if response.status_code != expected:
                failures.append(f"{case_id}: {response.status_code} {response.text[:200]}")
            elif response.status_code != 405:
                assert "detail" in response.json(), case_id
    assert not failures, "\n".join(failures)


def test_pagination_walks_every_document_once(start_target: StartTarget) -> None:
    target = start_target()
    owner = "pager@example.com"
    with httpx.Client(base_url=target.url, timeout=10) as client:
        ids = {
            client.post("/api/documents", json={**VALID, "owner_email": owner}).json()["id"]
            for _ in range(5)
        }
        seen: list[int] = []
        cursor: str | None = None
        for _ in range(10):
            params: dict[str, str | int] = {"owner": owner, "limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = client.get("/api/documents", params=params).json()
            seen.extend(item["id"] for item in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == sorted(ids)


def test_chaos_api_is_absent_without_a_token(start_target: StartTarget) -> None:
    target = start_target(TARGET_CHAOS_TOKEN="")
    assert httpx.get(target.url + "/admin/chaos").status_code == 404


def test_the_labs_fault_switches_leave_no_mark_in_the_services_own_signals(
    start_target: StartTarget, tmp_path: Path
) -> None:
    """A game-day responder reading logs or metrics must not see a fault being switched on."""
    target = start_target()
    token = {"X-Chaos-Token": CHAOS_TOKEN}
    with httpx.Client(base_url=target.url, timeout=10) as client:
        assert client.patch("/admin/chaos", json={"exception_rate": 0.0}, headers=token).is_success
        assert client.get("/admin/chaos", headers=token).is_success
        assert client.get("/api/documents/999999").status_code == 404  # the control: logged
        metrics = client.get("/metrics").text
    control = "/api/documents/999999"
    records = read_log_when(
        tmp_path / "target.jsonl", lambda lines: any(x.get("path") == control for x in lines)
    )
    paths = [record.get("path") for record in records]
    assert control in paths
    assert not [p for p in paths if p and p.startswith("/admin")], paths
    assert 'route="/api/documents/{document_id}"' in metrics
    assert "/admin/chaos" not in metrics
