"""Bugsink's own issue list in headless chromium, logged in as the lab's admin, with an issue.

Bugsink's pages need a login. The test logs in through the login form (as a
person would: the CSRF token of the form, the admin's email and password from
the provisioning), then hands the session cookie to chromium
(:func:`tests.integration.browser.open_page` with ``cookies``).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assertions import BugsinkClient
from stack.bugsink import BugsinkServer
from tests.integration.browser import Cookie, open_page
from tests.integration.test_bugsink_ingest import send_exceptions

pytestmark = pytest.mark.integration

MESSAGE = "pool of 10 exhausted after 30 s"


@pytest.fixture(scope="module")
def bugsink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BugsinkServer]:
    with BugsinkServer(tmp_path_factory.mktemp("bugsink-ui")) as server:
        yield server


@pytest.fixture(scope="module")
def issue_id(bugsink: BugsinkServer) -> str:
    run_id = str(uuid.uuid4())
    send_exceptions(bugsink.dsn, run_id, [([f"ui-{run_id}"], MESSAGE)])
    deadline = time.monotonic() + 30
    with BugsinkClient(bugsink.url, bugsink.api_token, bugsink.project_id) as api:
        while not (issues := api.issues(tags={"run_id": run_id})):
            assert time.monotonic() < deadline, "the event never became an issue"
            time.sleep(0.3)
    [issue] = issues
    return issue.id


def log_in(bugsink: BugsinkServer) -> Cookie:
    """The session cookie of the lab's admin, from Bugsink's login form."""
    provisioning = bugsink.provisioning
    with httpx.Client(base_url=bugsink.url, timeout=10) as client:
        form = client.get("/accounts/login/")
        assert form.status_code == 200
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert token is not None, "no CSRF token in the login form"
        answer = client.post(
            "/accounts/login/",
            data={
                "csrfmiddlewaretoken": token.group(1),
                "username": provisioning.admin_email,
                "password": provisioning.admin_password,
            },
        )
        assert answer.status_code == 302, answer.text[-2000:]
        session = client.cookies.get("sessionid")
    assert session, "the login set no session cookie"
    return Cookie("sessionid", session, bugsink.url)


def test_the_issue_list_shows_the_issue_to_a_logged_in_user(
    bugsink: BugsinkServer, issue_id: str, tmp_path: Path
) -> None:
    url = f"{bugsink.url}/issues/{bugsink.project_id}/"

    session = log_in(bugsink)

    result = open_page(url, tmp_path / "issues.png", cookies=[session])

    assert result.console_errors == []
    assert result.network_requests == [], "the page loaded something beyond its origin"
    assert url in result.origin_requests
    for request in result.origin_requests:
        again = httpx.get(request, cookies={session.name: session.value}, timeout=10)
        assert again.status_code == 200, request
    assert "<title>Issues · target · Bugsink</title>" in result.dom
    assert f"/issues/issue/{issue_id}/" in result.dom
    assert "PoolExhausted" in result.dom
    assert MESSAGE in result.dom
    assert result.png_bytes > 10_000, "the screenshot is (almost) blank"


def test_without_the_session_the_same_page_is_the_login_form(
    bugsink: BugsinkServer, issue_id: str, tmp_path: Path
) -> None:
    result = open_page(f"{bugsink.url}/issues/{bugsink.project_id}/", tmp_path / "login.png")

    assert "<title>Log in · Bugsink</title>" in result.dom
    assert MESSAGE not in result.dom
    assert issue_id not in result.dom
