"""The request mix: a ``load`` section proposed from an OpenAPI document, or a placeholder.

GET operations weigh 5, POST/PUT/PATCH with a JSON body weigh 1 (the body a
minimal valid value of its schema), integer path parameters become ``{name}``
drawn from ``vars``; DELETE, health, metrics, docs and admin paths are left
out. Without a document the mix is a placeholder (``GET /``, or the health
path when ``/`` fails).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from scenarios.scaffold.examples import UNSET, example_value, jsonable, schema_type
from scenarios.scaffold.openapi import (
    base_path,
    is_swagger2,
    json_media,
    param_schema,
    parameters,
    resolve,
    success_codes,
)
from scenarios.scaffold.probe import OPENAPI_PATHS, Discovery

MAX_REQUESTS = 12
GET_WEIGHT = 5
WRITE_WEIGHT = 1
VAR_RANGE = (1, 50)

# Paths that are not the service's work: probes, metrics, API docs, admin switches.
_NOT_LOAD_SEGMENTS = {
    "healthz",
    "health",
    "readyz",
    "ready",
    "readiness",
    "live",
    "liveness",
    "startup",
    "ping",
    "metrics",
}
_NOT_LOAD_FIRST = {"admin", "internal", "debug", "actuator", "docs", "redoc", "swagger"}
_DOC_PATHS = {*OPENAPI_PATHS, "/openapi", "/swagger.yaml", "/api-docs", "/swagger-ui"}
_WRITES = ("POST", "PUT", "PATCH")
_METHODS = ("get", "post", "put", "patch", "delete", "head", "options", "trace")
_VAR = re.compile(r"\{([^{}]+)\}")


@dataclass
class Mix:
    """A proposed ``load`` section: requests, ``vars``, and what was left out and why."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    vars: dict[str, list[int]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    left_out: int = 0
    note: str = ""


class _Skip(Exception):
    """This operation does not go into the mix (the message says why)."""


def propose_mix(doc: Mapping[str, Any], limit: int = MAX_REQUESTS) -> Mix:
    """The request mix an OpenAPI 3.x / Swagger 2.0 document suggests (see the module doc)."""
    mix = Mix()
    base = base_path(doc)
    paths = doc.get("paths")
    found: list[dict[str, Any]] = []
    for path, raw_item in (paths if isinstance(paths, Mapping) else {}).items():
        item = resolve(raw_item, doc)
        if not isinstance(path, str) or not path.startswith("/") or not isinstance(item, Mapping):
            continue
        full = base + path if base else path
        reason = _not_load(full)
        for method in [m for m in item if str(m).lower() in _METHODS]:
            upper = str(method).upper()
            if reason is not None:
                mix.skipped.append(f"{upper} {full}: {reason}")
                continue
            operation = item[method] if isinstance(item[method], Mapping) else {}
            try:
                found.append(_request(full, upper, item, operation, doc, mix.vars))
            except _Skip as skip:
                mix.skipped.append(f"{upper} {full}: {skip}")
    mix.requests, mix.left_out = found[:limit], max(0, len(found) - limit)
    used = {name for r in mix.requests for name in _VAR.findall(json.dumps(r))}
    mix.vars = {k: v for k, v in mix.vars.items() if k in used}
    return mix


def fallback_mix(discovery: Discovery) -> Mix:
    """Without an OpenAPI document: ``GET /`` if it answers below 500, else the health path."""
    if discovery.root_status < 500:
        path, expect = "/", discovery.root_status
        note = f"GET / (it answered {discovery.root_status})"
    else:
        path, expect = discovery.live or discovery.ready or "/", 200
        note = f"GET {path} (GET / answered {discovery.root_status})"
    request = {
        "name": f"GET {path}",
        "method": "GET",
        "path": path,
        "weight": 1,
        "expect": [expect],
    }
    return Mix(requests=[request], note=note)


def _not_load(path: str) -> str | None:
    """Why ``path`` is not the service's work (a probe, metrics, docs, admin), or None."""
    segments = [s for s in path.split("/") if s]
    if path in _DOC_PATHS or (segments and segments[0] in _NOT_LOAD_FIRST):
        return "docs or admin path"
    if segments and segments[-1] in _NOT_LOAD_SEGMENTS:
        return "health or metrics path"
    if any(s in ("openapi.json", "openapi.yaml", "swagger.json", "api-docs") for s in segments):
        return "docs path"
    return None


def _request(
    path: str,
    method: str,
    path_item: Mapping[str, Any],
    operation: Mapping[str, Any],
    doc: Mapping[str, Any],
    variables: dict[str, list[int]],
) -> dict[str, Any]:
    """One request of the mix for ``method path`` (``_Skip`` with the reason if none)."""
    if method not in ("GET", *_WRITES):
        raise _Skip(f"{method} is left out")
    if operation.get("deprecated") is True:
        raise _Skip("deprecated")
    security = operation.get("security", doc.get("security"))
    if isinstance(security, list) and security and all(security):
        raise _Skip("needs authentication")
    params = parameters(path_item, operation, doc)
    for (where, name), param in params.items():
        if where in ("header", "cookie") and param.get("required") is True:
            raise _Skip(f"needs {where} {name}")
    template = path
    new_vars: dict[str, list[int]] = {}
    for name in _VAR.findall(path):
        declared = params.get(("path", name))
        schema = param_schema(declared, doc) if declared is not None else {}
        kind = schema_type(schema)
        if kind != "integer":
            raise _Skip(f"path parameter {{{name}}} is {kind or 'undescribed'}, not an integer")
        var = re.sub(r"\W", "_", name)
        var = var if re.match(r"[A-Za-z_]", var) else f"_{var}"
        template = template.replace(f"{{{name}}}", f"{{{var}}}")
        new_vars[var] = _var_range(schema)
    query = []
    for (where, name), param in params.items():
        if where == "query" and param.get("required") is True:
            value = param.get("example", UNSET)
            if value is UNSET:
                value = example_value(param_schema(param, doc), doc, name)
            if isinstance(value, list | dict):
                raise _Skip(f"query parameter {name} is not a single value")
            query.append((name, json.dumps(value) if isinstance(value, bool) else str(value)))
    request: dict[str, Any] = {
        "name": f"{method} {template}",
        "method": method,
        "path": template + (f"?{urlencode(query)}" if query else ""),
        "weight": GET_WEIGHT if method == "GET" else WRITE_WEIGHT,
    }
    if method in _WRITES:
        body = _body(method, operation, params, doc)
        if not isinstance(body, dict | list):
            raise _Skip("its JSON body is not an object or an array")
        request["json"] = body
    request["expect"] = success_codes(operation)
    for var, span in new_vars.items():
        variables.setdefault(var, span)
    return request


def _body(
    method: str,
    operation: Mapping[str, Any],
    params: Mapping[tuple[str, str], Mapping[str, Any]],
    doc: Mapping[str, Any],
) -> Any:
    """The JSON body of a write operation (``_Skip`` when it takes none)."""
    if is_swagger2(doc):
        consumes = operation.get("consumes", doc.get("consumes")) or ["application/json"]
        body = next((p for (where, _), p in params.items() if where == "body"), None)
        if body is None or json_media(dict.fromkeys(consumes)) is None:
            raise _Skip(f"{method} without a JSON body")
        given = body.get("x-example", UNSET)
        return jsonable(given) if given is not UNSET else example_value(body.get("schema"), doc)
    request_body = resolve(operation.get("requestBody"), doc)
    content = request_body.get("content") if isinstance(request_body, Mapping) else None
    media = json_media(content) if isinstance(content, Mapping) else None
    if content is None or media is None:
        raise _Skip(f"{method} without a JSON body")
    entry = content[media] if isinstance(content[media], Mapping) else {}
    if entry.get("example") is not None:
        return jsonable(entry["example"])
    examples = entry.get("examples")
    if isinstance(examples, Mapping):
        for example in examples.values():
            example = resolve(example, doc)
            if isinstance(example, Mapping) and "value" in example:
                return jsonable(example["value"])
    return example_value(entry.get("schema", {}), doc)


def _var_range(schema: Mapping[str, Any]) -> list[int]:
    low, high = VAR_RANGE
    minimum, maximum = schema.get("minimum"), schema.get("maximum")
    if isinstance(minimum, int | float) and minimum > low:
        low = math.ceil(minimum)
        high = low + VAR_RANGE[1] - VAR_RANGE[0]
    if isinstance(maximum, int | float) and maximum < high:
        high = max(low, math.floor(maximum))
    return [low, high]
