"""Whatever a client sends, a mistake is a 4xx: fuzzed bodies, ids and query strings."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.target.conftest import StartTarget

pytestmark = pytest.mark.integration

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
documents = st.fixed_dictionaries(
    {},
    optional={
        "title": json_values | st.text(max_size=300),
        "body": json_values | st.text(max_size=300),
        "owner_email": json_values | st.emails(),
    },
)
path_segments = st.text(
    # httpx refuses control characters in a URL, so they cannot reach the server anyway.
    st.characters(codec="utf-8", exclude_characters="/?#", exclude_categories=["Cc"]),
    min_size=1,
    max_size=30,
) | st.integers().map(str)
queries = st.dictionaries(
    st.sampled_from(["owner", "limit", "cursor"]), st.text(max_size=80), max_size=3
)
FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture
def target_url(start_target: StartTarget) -> str:
    return start_target().url


def assert_not_server_error(response: httpx.Response) -> None:
    assert response.status_code < 500, (
        f"{response.request.method} {response.request.url} -> {response.status_code}: "
        f"{response.text[:300]}"
    )


@FUZZ
@given(body=documents | json_values)
def test_create_never_answers_5xx(target_url: str, body: Any) -> None:
    assert_not_server_error(httpx.post(target_url + "/api/documents", json=body, timeout=10))


@FUZZ
@given(document_id=path_segments, query=queries)
def test_reads_never_answer_5xx(target_url: str, document_id: str, query: dict[str, str]) -> None:
    with httpx.Client(base_url=target_url, timeout=10) as client:
        assert_not_server_error(client.get(f"/api/documents/{document_id}"))
        assert_not_server_error(client.post(f"/api/documents/{document_id}/reprocess"))
        assert_not_server_error(client.get("/api/documents", params=query))
