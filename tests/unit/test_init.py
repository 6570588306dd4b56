"""``chaoslab init``: the OpenAPI request mix, the fallback, names, URLs and the files written.

The OpenAPI documents are real: the bundled document service's own (FastAPI's
``app.openapi()``, made in a child process so its logging and tracing set-up
stay out of this one) and hand-written Swagger 2.0 / OpenAPI 3.1 documents.
The service is played by an ``httpx.MockTransport``; the integration tests ask
real processes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from scenarios import scaffold
from scenarios.exceptions import ScenarioInvalid
from scenarios.loader import load
from scenarios.model import Scenario
from scenarios.profiles import load_profile, mismatches
from scenarios.scaffold import Discovery, InitError
from stack.ports import free_port
from stack.profile import TargetProfile
from target_app.models import DocumentIn

METRICS = (
    "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n"
    'http_requests_total{route="/api/documents",status="200"} 3.0\n'
    "process_start_time_seconds 1.7e+09\n"
)


@pytest.fixture(scope="module")
def documents_openapi() -> dict[str, Any]:
    """The OpenAPI document of the bundled document service, as FastAPI serves it."""
    code = (
        "import json; from target_app.main import create_app; "
        "print(json.dumps(create_app().openapi()))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def by_name(mix: scaffold.Mix) -> dict[str, dict[str, Any]]:
    return {str(r["name"]): r for r in mix.requests}


Routes = Mapping[str, tuple[int, str]]


def service(routes: Routes, url: str = "http://127.0.0.1:8000") -> httpx.Client:
    """A client whose service answers ``routes`` (path: (status, body)) and 404 elsewhere."""

    def handle(request: httpx.Request) -> httpx.Response:
        status, body = routes.get(request.url.path, (404, "not found"))
        return httpx.Response(status, text=body)

    return httpx.Client(base_url=url, transport=httpx.MockTransport(handle))


def documents_routes(openapi: Mapping[str, Any]) -> dict[str, tuple[int, str]]:
    return {
        "/startup": (200, '{"status": "ok"}'),
        "/liveness": (200, '{"status": "ok"}'),
        "/readiness": (200, '{"status": "ok"}'),
        "/metrics": (200, METRICS),
        "/openapi.json": (200, json.dumps(openapi)),
        "/docs": (200, "<html>swagger ui</html>"),
    }


# -- the mix from the document service's own OpenAPI ------------------------------------


def test_the_document_service_openapi_gives_its_reads_and_a_valid_create(
    documents_openapi: dict[str, Any],
) -> None:
    mix = scaffold.propose_mix(documents_openapi)
    requests = by_name(mix)
    assert list(requests) == [
        "POST /api/documents",
        "GET /api/documents",
        "GET /api/documents/{document_id}",
    ]
    create = requests["POST /api/documents"]
    assert create["method"] == "POST"
    assert create["weight"] == 1
    assert create["expect"] == [201]  # FastAPI documents status_code=201
    DocumentIn.model_validate(create["json"])  # the body passes the service's own model
    assert create["json"]["owner_email"] == "user@example.com"  # a pattern with @ in it
    read = requests["GET /api/documents/{document_id}"]
    assert (read["path"], read["weight"], read["expect"]) == (
        "/api/documents/{document_id}",
        5,
        [200],
    )
    assert "json" not in read
    assert mix.vars == {"document_id": [1, 50]}
    skipped = "\n".join(mix.skipped)
    assert "POST /api/documents/{document_id}/reprocess: POST without a JSON body" in skipped
    for probe in ("/liveness", "/readiness", "/startup"):
        assert f"GET {probe}: health or metrics path" in skipped
    for request in mix.requests:
        TargetProfile.model_validate(
            {
                "name": "x",
                "service": "x",
                "url": "http://127.0.0.1:1",
                "load": {"requests": [request]},
            }
        )


def test_admin_routes_never_join_the_load(documents_openapi: dict[str, Any]) -> None:
    doc = json.loads(json.dumps(documents_openapi))
    doc["paths"]["/admin/chaos"] = {
        "put": {
            "requestBody": {
                "content": {"application/json": {"schema": {"type": "object", "required": []}}}
            },
            "responses": {"200": {"description": "ok"}},
        }
    }
    mix = scaffold.propose_mix(doc)
    assert all("/admin" not in r["path"] for r in mix.requests)
    assert "PUT /admin/chaos: docs or admin path" in mix.skipped


# -- Swagger 2 and OpenAPI 3.1 documents ----------------------------------------------------

SWAGGER = {
    "swagger": "2.0",
    "info": {"title": "Pet Store", "version": "1"},
    "basePath": "/v1",
    "consumes": ["application/json"],
    "paths": {
        "/pets": {
            "get": {
                "parameters": [
                    {"name": "limit", "in": "query", "type": "integer", "minimum": 5},
                    {
                        "name": "kind",
                        "in": "query",
                        "required": True,
                        "type": "string",
                        "enum": ["dog", "cat"],
                    },
                ],
                "responses": {"200": {"description": "ok"}},
            },
            "post": {
                "parameters": [
                    {
                        "name": "body",
                        "in": "body",
                        "required": True,
                        "schema": {"$ref": "#/definitions/NewPet"},
                    }
                ],
                "responses": {
                    "201": {"description": "made"},
                    "202": {"description": "queued"},
                    "400": {"description": "bad"},
                },
            },
        },
        "/pets/{petId}": {
            "parameters": [
                {
                    "name": "petId",
                    "in": "path",
                    "required": True,
                    "type": "integer",
                    "format": "int64",
                }
            ],
            "get": {"responses": {"200": {"description": "ok"}}},
            "delete": {"responses": {"204": {"description": "gone"}}},
        },
        "/owners/{name}": {
            "get": {
                "parameters": [{"name": "name", "in": "path", "required": True, "type": "string"}],
                "responses": {"200": {"description": "ok"}},
            }
        },
        "/upload": {
            "post": {
                "consumes": ["multipart/form-data"],
                "parameters": [{"name": "file", "in": "formData", "type": "file"}],
                "responses": {"200": {"description": "ok"}},
            }
        },
        "/health": {"get": {"responses": {"200": {"description": "ok"}}}},
    },
    "definitions": {
        "NewPet": {
            "type": "object",
            "required": ["name", "kind", "age", "owner"],
            "properties": {
                "name": {"type": "string", "minLength": 12},
                "kind": {"$ref": "#/definitions/Kind"},
                "age": {"type": "integer", "minimum": 3, "maximum": 30},
                "owner": {"$ref": "#/definitions/Owner"},
                "nickname": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
        },
        "Kind": {"type": "string", "enum": ["dog", "cat"]},
        "Owner": {
            "type": "object",
            "required": ["email", "tags"],
            "properties": {
                "email": {"type": "string", "format": "email"},
                "tags": {
                    "type": "array",
                    "minItems": 2,
                    "items": {"type": "string", "maxLength": 3},
                },
                "phone": {"type": "string"},
            },
        },
    },
}


def test_swagger_2_refs_enums_required_and_base_path() -> None:
    mix = scaffold.propose_mix(SWAGGER)
    requests = by_name(mix)
    assert list(requests) == ["GET /v1/pets", "POST /v1/pets", "GET /v1/pets/{petId}"]
    assert requests["GET /v1/pets"]["path"] == "/v1/pets?kind=dog"  # required query only
    create = requests["POST /v1/pets"]
    assert create["json"] == {
        "name": "examplexxxxx",
        "kind": "dog",
        "age": 3,
        "owner": {"email": "user@example.com", "tags": ["exa", "exa"]},
    }
    assert create["expect"] == [201, 202]
    assert requests["GET /v1/pets/{petId}"]["weight"] == 5
    assert mix.vars == {"petId": [1, 50]}
    skipped = "\n".join(mix.skipped)
    assert "DELETE /v1/pets/{petId}: DELETE is left out" in skipped
    assert "GET /v1/owners/{name}: path parameter {name} is string, not an integer" in skipped
    assert "POST /v1/upload: POST without a JSON body" in skipped
    assert "GET /v1/health: health or metrics path" in skipped
    assert scaffold.choose_name(None, SWAGGER) == "pet-store"


OPENAPI_31: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Orders", "version": "2"},
    "servers": [{"url": "http://127.0.0.1:9000/api"}],
    "security": [{"apiKey": []}],
    "components": {
        "schemas": {
            "Base": {
                "type": "object",
                "required": ["sku"],
                "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}$"}},
            },
            "Order": {
                "allOf": [
                    {"$ref": "#/components/schemas/Base"},
                    {
                        "type": "object",
                        "required": ["qty", "ratio", "note", "when"],
                        "properties": {
                            "qty": {"type": "integer", "exclusiveMinimum": 10, "multipleOf": 4},
                            "ratio": {"type": "number", "exclusiveMaximum": 0.5, "minimum": 0},
                            "note": {
                                "type": ["string", "null"],
                                "examples": ["fragile: handle #1"],
                            },
                            "when": {
                                "anyOf": [
                                    {"type": "null"},
                                    {"type": "string", "format": "date-time"},
                                ]
                            },
                        },
                    },
                ]
            },
        },
        "parameters": {
            "OrderId": {
                "name": "order-id",
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 100},
            }
        },
        "requestBodies": {
            "Order": {
                "content": {
                    "application/json; charset=utf-8": {
                        "schema": {"$ref": "#/components/schemas/Order"}
                    }
                }
            }
        },
    },
    "paths": {
        "/orders": {
            "post": {
                "security": [{}],
                "requestBody": {"$ref": "#/components/requestBodies/Order"},
                "responses": {"200": {}},
            },
            "get": {"security": [{}], "responses": {"2XX": {}}},
        },
        "/orders/{order-id}": {
            "parameters": [{"$ref": "#/components/parameters/OrderId"}],
            "get": {"security": [{}], "responses": {"200": {}}},
            "put": {
                "security": [{}],
                "requestBody": {
                    "content": {
                        "application/json": {
                            "examples": {"one": {"value": {"sku": "ABC", "qty": 1}}}
                        }
                    }
                },
                "responses": {"204": {}},
            },
        },
        "/secret": {"get": {"responses": {"200": {}}}},
        "/tenant": {
            "get": {
                "security": [{}],
                "parameters": [{"name": "X-Tenant", "in": "header", "required": True}],
                "responses": {"200": {}},
            }
        },
        "/old": {"get": {"security": [{}], "deprecated": True, "responses": {"200": {}}}},
    },
}


def test_openapi_31_all_of_any_of_examples_refs_and_what_is_left_out() -> None:
    mix = scaffold.propose_mix(OPENAPI_31)
    requests = by_name(mix)
    assert list(requests) == [
        "POST /api/orders",
        "GET /api/orders",
        "GET /api/orders/{order_id}",
        "PUT /api/orders/{order_id}",
    ]
    assert requests["POST /api/orders"]["json"] == {
        "sku": "ABC",  # the first guess matching ^[A-Z]{3}$
        "qty": 12,  # above 10, a multiple of 4
        "ratio": 0.25,  # between 0 and the exclusive 0.5
        "note": "fragile: handle #1",
        "when": "2024-01-01T00:00:00Z",
    }
    assert requests["GET /api/orders"]["expect"] == [200]  # 2XX is no code: the default
    assert requests["PUT /api/orders/{order_id}"]["json"] == {"sku": "ABC", "qty": 1}
    assert requests["PUT /api/orders/{order_id}"]["expect"] == [204]
    assert mix.vars == {"order_id": [100, 149]}  # a var name Locust can fill, from minimum
    skipped = "\n".join(mix.skipped)
    assert "GET /api/secret: needs authentication" in skipped
    assert "GET /api/tenant: needs header X-Tenant" in skipped
    assert "GET /api/old: deprecated" in skipped


def test_the_mix_is_capped_and_says_how_many_were_left_out() -> None:
    paths: dict[str, Any] = {f"/things{i}": {"get": {"responses": {"200": {}}}} for i in range(15)}
    mix = scaffold.propose_mix({"openapi": "3.0.3", "info": {"title": "t"}, "paths": paths})
    assert len(mix.requests) == scaffold.MAX_REQUESTS == 12
    assert mix.left_out == 3
    assert mix.requests[0]["path"] == "/things0"


@pytest.mark.parametrize(
    ("schema", "value"),
    [
        ({"type": "string", "minLength": 10}, "examplexxx"),
        ({"type": "string", "maxLength": 3}, "exa"),
        ({"type": "string", "format": "uuid"}, "00000000-0000-4000-8000-000000000000"),
        ({"type": "string", "pattern": "^[0-9]+$"}, "1"),
        ({"type": "integer", "minimum": -5, "maximum": 0}, 0),
        ({"type": "integer", "exclusiveMinimum": True, "minimum": 1}, 2),
        ({"type": "number", "minimum": 2.5}, 2.5),
        ({"type": "boolean"}, True),
        ({"type": "string", "default": "given"}, "given"),
        ({"type": "array", "items": {"type": "integer"}}, []),
        ({"type": "object", "properties": {"a": {"type": "string"}}}, {}),
    ],
)
def test_minimal_values_honour_their_schema(schema: dict[str, Any], value: object) -> None:
    assert scaffold.example_value(schema, {}) == value


def test_a_recursive_schema_ends() -> None:
    doc = {
        "components": {
            "schemas": {
                "Node": {
                    "type": "object",
                    "required": ["child"],
                    "properties": {"child": {"$ref": "#/components/schemas/Node"}},
                }
            }
        }
    }
    value = scaffold.example_value({"$ref": "#/components/schemas/Node"}, doc)
    depth = 0
    while isinstance(value, dict):
        value, depth = value["child"], depth + 1
    assert 5 < depth < 20


# -- without OpenAPI ------------------------------------------------------------------------


def found(root_status: int, ready: str = "/healthz", live: str | None = None) -> Discovery:
    return Discovery(url="http://127.0.0.1:8000", root_status=root_status, ready=ready, live=live)


def test_without_openapi_the_mix_is_get_root_when_it_answers_below_500() -> None:
    mix = scaffold.fallback_mix(found(404))
    assert mix.requests == [
        {"name": "GET /", "method": "GET", "path": "/", "weight": 1, "expect": [404]}
    ]
    assert "GET / (it answered 404)" in mix.note


def test_without_openapi_and_a_failing_root_the_mix_is_the_health_path() -> None:
    mix = scaffold.fallback_mix(found(500, ready="/readyz", live="/healthz"))
    assert [(r["path"], r["expect"]) for r in mix.requests] == [("/healthz", [200])]
    assert "GET / answered 500" in mix.note


# -- names and URLs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("chaoslab target: document service", "chaoslab-target-document-service"),
        ("Pet Store API v2", "pet-store-api-v2"),
        ("2nd Übersicht", "nd-bersicht"),
        ("   ", ""),
        ("1234", ""),
        ("A" * 60, "a" * 41),
        ("Books -- and more --", "books-and-more"),
    ],
)
def test_slug(title: str, name: str) -> None:
    assert scaffold.slug(title) == name
    if name:
        assert scaffold.NAME_PATTERN.match(name)


def test_the_name_is_given_else_the_title_else_service() -> None:
    assert scaffold.choose_name("mine", {"info": {"title": "Theirs"}}) == "mine"
    assert scaffold.choose_name(None, {"info": {"title": "Theirs"}}) == "theirs"
    assert scaffold.choose_name(None, {"info": {"title": "!!!"}}) == "service"
    assert scaffold.choose_name(None, None) == "service"
    with pytest.raises(InitError, match="must match"):
        scaffold.choose_name("Bad Name", None)


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://localhost:8000/", "http://localhost:8000"),
        ("https://[::1]:8443", "https://[::1]:8443"),
    ],
)
def test_loopback_urls_are_accepted(url: str, normal: str) -> None:
    assert scaffold.check_url(url) == normal


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://127.0.0.1:21", "not an http"),
        ("127.0.0.1:8000", "not an http"),
        ("http://10.1.2.3:8000", "not on loopback"),
        ("http://localhost.example.com:8000", "not on loopback"),
        ("http://127.0.0.1:8000/api", "base URL"),
        ("http://127.0.0.1:8000/?q=1", "base URL"),
        ("http://127.0.0.1:port", "not a URL"),
    ],
)
def test_bad_urls_exit_2(url: str, why: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InitError, match=why) as raised:
        scaffold.check_url(url)
    assert raised.value.code == 2
    assert scaffold.main([url]) == 2
    assert why in capsys.readouterr().err


def test_nothing_listening_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert scaffold.main([url, "--out", str(tmp_path / "out")]) == 2
    assert f"nothing answers at {url}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_bad_name_is_refused_before_the_service_is_asked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert scaffold.main([f"http://127.0.0.1:{free_port()}", "--name", "9lives"]) == 2
    assert "--name '9lives' must match" in capsys.readouterr().err


# -- discovery -------------------------------------------------------------------------------


def test_prometheus_text_is_told_from_other_answers() -> None:
    assert scaffold.is_prometheus_text(METRICS)
    assert scaffold.is_prometheus_text("# TYPE up gauge\n")
    assert scaffold.is_prometheus_text('x_total{a="b c"} 1 1700000000000\nnan_metric NaN\n')
    assert not scaffold.is_prometheus_text("<html><body>metrics</body></html>")
    assert not scaffold.is_prometheus_text('{"metrics": []}')
    assert not scaffold.is_prometheus_text("")


def test_openapi_is_read_from_json_or_yaml_and_must_be_openapi() -> None:
    assert scaffold.parse_openapi(yaml.safe_dump(SWAGGER)) == SWAGGER
    assert scaffold.parse_openapi(json.dumps(OPENAPI_31)) == OPENAPI_31
    assert scaffold.parse_openapi('{"openapi": "2.5", "paths": {}}') is None
    assert scaffold.parse_openapi("<html></html>") is None
    assert scaffold.parse_openapi("just: [a, mapping]") is None


def test_discovery_picks_readiness_then_liveness_metrics_and_the_document(
    documents_openapi: dict[str, Any],
) -> None:
    routes = documents_routes(documents_openapi)
    routes["/readyz"] = (503, "not ready")
    routes["/openapi.json"] = (404, "")
    routes["/v3/api-docs"] = (200, yaml.safe_dump(documents_openapi))
    with service(routes) as client:
        seen = scaffold.discover("http://127.0.0.1:8000", client)
    assert (seen.ready, seen.live, seen.metrics) == ("/startup", "/liveness", "/metrics")
    assert seen.openapi_path == "/v3/api-docs"
    assert seen.openapi == documents_openapi
    assert seen.root_status == 404


def test_a_failing_readiness_check_is_still_a_health_path() -> None:
    with service({"/readyz": (503, "db down"), "/metrics": (200, "<html/>")}) as client:
        seen = scaffold.discover("http://127.0.0.1:8000", client)
    assert (seen.ready, seen.ready_status, seen.metrics, seen.openapi) == (
        "/readyz",
        503,
        None,
        None,
    )


# -- the files ------------------------------------------------------------------------------


def run_init(
    tmp_path: Path,
    routes: Routes,
    *,
    name: str | None = None,
    force: bool = False,
    out: Path | None = None,
) -> tuple[list[Path], list[str]]:
    said: list[str] = []
    with service(routes) as client:
        written = scaffold.init(
            "http://127.0.0.1:8000",
            out or tmp_path / "out",
            name,
            force=force,
            say=said.append,
            client=client,
        )
    return written, said


def test_init_writes_a_profile_and_scenario_that_validate(
    tmp_path: Path, documents_openapi: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    written, said = run_init(tmp_path, documents_routes(documents_openapi))
    profile_path, scenario_path = written
    assert written == [tmp_path / "out" / "profile.yaml", tmp_path / "out" / "first-scenario.yaml"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "first-scenario.yaml",
        "profile.yaml",
    ]  # no staging left behind
    profile = load_profile(profile_path)
    assert profile.name == profile.service == profile.job == "chaoslab-target-document-service"
    assert profile.url == "http://127.0.0.1:8000"
    assert (profile.health.ready, profile.health.live) == ("/startup", "/liveness")
    assert profile.metrics == ["/metrics"]
    assert profile.dependencies == {}
    assert profile.env == {}
    assert profile.rules is None
    names = [r.name for r in profile.load.requests]
    assert names == [
        "POST /api/documents",
        "GET /api/documents",
        "GET /api/documents/{document_id}",
    ]
    DocumentIn.model_validate(profile.load.requests[0].json_body)
    assert profile.load.vars == {"document_id": (1, 50)}
    scenario = load(scenario_path)
    assert scenario.profile.name == profile.name
    assert (scenario.load.users, scenario.load.duration, scenario.faults) == (5, 30.0, [])
    kinds = {e.id: e for e in scenario.expectations}
    up = kinds["target-up"]
    assert up.kind == "metric"
    assert (up.query, up.op, up.threshold, up.hold) == (
        'up{job="chaoslab-target-document-service"}',
        "==",
        1.0,
        10.0,
    )
    assert kinds["no-sentry-issue"].kind == "sentry"
    assert kinds["no-sentry-issue"].absent
    text = profile_path.read_text()
    schema = Path(__file__).resolve().parents[2] / "stack" / "profile.schema.json"
    header = text.splitlines()[0]
    assert header.startswith("# yaml-language-server: $schema=")
    assert (profile_path.parent / header.split("=", 1)[1]).resolve() == schema
    for placeholder in ("${dep.db.dsn}", "${sentry_dsn}", "${otlp_traces_endpoint}"):
        lines = [line for line in text.splitlines() if placeholder in line]
        assert lines
        assert all(line.startswith("#") for line in lines)  # a commented template
    for key in ("env", "dependencies", "rules"):
        assert f"\n# {key}:\n" in text
    out = "\n".join(said)
    for fact in (
        "health   /startup (ready), /liveness (live)",
        "metrics  /metrics",
        "openapi  /openapi.json",
        "requests 3 (from OpenAPI)",
    ):
        assert fact in out
    assert f"chaoslab validate {profile_path} {scenario_path}" in out
    assert f"chaoslab up --target {profile_path}" in out
    assert f"chaoslab run {scenario_path}" in out
    assert "warning" not in capsys.readouterr().err


def uncommented(text: str, keys: tuple[str, ...]) -> str:
    """The YAML of a commented template: its ``key:`` lines and the indented ones after them."""
    lines = [
        line[2:] if line.startswith("# ") else line[1:]
        for line in text.splitlines()
        if line.startswith("#")
    ]
    kept: list[str] = []
    inside = False
    for line in lines:
        if line.rstrip() in {f"{k}:" for k in keys}:
            inside = True
        elif not line.startswith("  "):
            inside = False
        if inside:
            kept.append(line)
    return "\n".join(kept) + "\n"


def test_the_commented_templates_are_valid_once_uncommented(
    tmp_path: Path, documents_openapi: dict[str, Any]
) -> None:
    profile_path, scenario_path = run_init(tmp_path, documents_routes(documents_openapi))[0]
    template = yaml.safe_load(
        uncommented(profile_path.read_text(), ("env", "dependencies", "rules"))
    )
    assert set(template) == {"env", "dependencies", "rules"}
    data = {**yaml.safe_load(profile_path.read_text()), **template}
    profile = TargetProfile.model_validate(data)
    assert profile.placeholder_problems() == []
    assert set(profile.dependencies) == {"db", "pricing"}
    faults = yaml.safe_load(uncommented(scenario_path.read_text(), ("faults",)))
    scenario_data = {**yaml.safe_load(scenario_path.read_text()), **faults}
    scenario = Scenario.model_validate(scenario_data)
    assert [f.kind for f in scenario.faults] == ["toxic"]
    assert list(mismatches(scenario, profile)) == []
    # ...and on the profile as written, without dependencies, the fault is refused.
    assert list(mismatches(scenario, load_profile(profile_path)))


def test_without_openapi_or_metrics_the_profile_says_so_and_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    routes = {"/": (200, "<html>home</html>"), "/healthz": (200, "ok"), "/metrics": (404, "")}
    (profile_path, scenario_path), said = run_init(tmp_path, routes)
    profile = load_profile(profile_path)
    load(scenario_path)
    assert profile.name == "service"
    assert profile.health.ready == "/healthz"
    assert profile.health.live is None
    assert profile.metrics == ["/metrics"]
    assert [(r.method, r.path, r.expect) for r in profile.load.requests] == [("GET", "/", [200])]
    text = profile_path.read_text()
    assert "the lab refuses to start\n# this target until its metrics path answers" in text
    assert "No OpenAPI document was found" in text
    assert "placeholder: GET / (it answered 200)" in " ".join(text.replace("# ", "").split())
    assert "metrics  none" in "\n".join(said)
    assert "requests 1 (placeholder" in "\n".join(said)
    assert "warning: no Prometheus metrics at /metrics" in capsys.readouterr().err


def test_no_health_path_at_all_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InitError, match="none of /readyz, /healthz") as raised:
        run_init(tmp_path, {"/metrics": (200, METRICS)})
    assert raised.value.code == 2
    assert not (tmp_path / "out").exists()


def test_existing_files_are_kept_unless_forced(
    tmp_path: Path, documents_openapi: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    routes = documents_routes(documents_openapi)
    out = tmp_path / "out"
    out.mkdir()
    (out / "first-scenario.yaml").write_text("mine\n")
    with pytest.raises(InitError, match=r"first-scenario\.yaml already exists: --force") as raised:
        run_init(tmp_path, routes)
    assert raised.value.code == 2
    assert sorted(p.name for p in out.iterdir()) == ["first-scenario.yaml"]
    assert (out / "first-scenario.yaml").read_text() == "mine\n"
    written, _ = run_init(tmp_path, routes, force=True, name="docs")
    assert load(written[1]).profile.name == "docs"
    assert (out / "first-scenario.yaml").read_text() != "mine\n"
    # the command line says the same, with exit 2
    args = argparse.Namespace(url="http://127.0.0.1:1", out=out, name=None, force=False)
    assert scaffold.cmd_init(args) == 2
    assert "nothing answers" in capsys.readouterr().err


def test_the_default_folder_is_chaoslab_slash_name(
    tmp_path: Path, documents_openapi: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    said: list[str] = []
    with service(documents_routes(documents_openapi)) as client:
        written = scaffold.init(
            "http://127.0.0.1:8000", None, "docs", say=said.append, client=client
        )
    assert written == [
        Path("chaoslab/docs/profile.yaml"),
        Path("chaoslab/docs/first-scenario.yaml"),
    ]
    assert (
        "  chaoslab validate chaoslab/docs/profile.yaml chaoslab/docs/first-scenario.yaml" in said
    )
    assert load(tmp_path / written[1]).profile.name == "docs"


def test_user_data_is_written_as_yaml_not_pasted(tmp_path: Path) -> None:
    example = {"text": "a: b # not a comment\n- no list", "when": "2024-05-01", "n": "{id}"}
    doc: dict[str, Any] = {
        "openapi": "3.0.0",
        "info": {"title": "Odd: names # here"},
        "paths": {
            "/notes": {
                "post": {
                    "requestBody": {"content": {"application/json": {"example": example}}},
                    "responses": {"201": {}},
                }
            }
        },
    }
    routes = {
        "/healthz": (200, "ok"),
        "/metrics": (200, METRICS),
        "/openapi.yaml": (200, yaml.safe_dump(doc)),
    }
    (profile_path, scenario_path), _ = run_init(tmp_path, routes)
    profile = load_profile(profile_path)
    assert profile.name == "odd-names-here"
    assert profile.load.requests[0].json_body == example
    assert load(scenario_path).name == "odd-names-here-first"


def test_a_file_that_would_not_validate_is_never_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken: Callable[..., str] = lambda *_a, **_k: "name: x\nload: {duration: 5s}\n"  # noqa: E731
    monkeypatch.setattr(scaffold.command, "render_scenario", broken)
    with pytest.raises(InitError, match="do not validate"):
        run_init(tmp_path, {"/healthz": (200, "ok"), "/metrics": (200, METRICS)})
    assert not (tmp_path / "out").exists()
    with pytest.raises(ScenarioInvalid):
        load_profile(tmp_path / "out" / "profile.yaml")


def test_add_parser_registers_init_on_a_subcommand_parser(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser(prog="chaoslab")
    scaffold.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        ["init", "http://127.0.0.1:9", "--out", str(tmp_path), "--name", "x", "--force"]
    )
    assert args.func is scaffold.cmd_init
    assert (args.url, args.out, args.name, args.force) == (
        "http://127.0.0.1:9",
        tmp_path,
        "x",
        True,
    )
