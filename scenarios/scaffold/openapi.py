"""Reading an OpenAPI 3.x or Swagger 2.0 document: parsing, ``$ref``, paths and parameters."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import yaml


def parse_openapi(text: str) -> dict[str, Any] | None:
    """An OpenAPI 3.x or Swagger 2.0 document from JSON or YAML text, or None."""
    try:
        doc = json.loads(text)
    except ValueError:
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError:
            return None
    if not isinstance(doc, dict) or not isinstance(doc.get("paths"), dict):
        return None
    if str(doc.get("openapi", "")).startswith("3.") or is_swagger2(doc):
        return doc
    return None


def is_swagger2(doc: Mapping[str, Any]) -> bool:
    """Is ``doc`` a Swagger 2.0 document (rather than OpenAPI 3.x)?"""
    return str(doc.get("swagger", "")) == "2.0"


def resolve(node: Any, doc: Mapping[str, Any]) -> Any:
    """``node`` with its local ``$ref`` chain followed ({} for one that cannot be)."""
    seen: set[str] = set()
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
        ref: str = node["$ref"]
        if ref in seen or not ref.startswith("#/"):
            return {}
        seen.add(ref)
        target: Any = doc
        for raw in ref[2:].split("/"):
            part = raw.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or part not in target:
                return {}
            target = target[part]
        node = target
    return node


def base_path(doc: Mapping[str, Any]) -> str:
    """The path every operation's path is under (Swagger ``basePath``, OpenAPI ``servers``)."""
    if is_swagger2(doc):
        base = doc.get("basePath")
        path = base if isinstance(base, str) else ""
    else:
        servers = doc.get("servers")
        first = servers[0] if isinstance(servers, list) and servers else {}
        url = first.get("url", "") if isinstance(first, Mapping) else ""
        path = urlsplit(url).path if isinstance(url, str) and "{" not in url else ""
    path = path.rstrip("/")
    return path if path.startswith("/") else ""


def parameters(
    path_item: Mapping[str, Any], operation: Mapping[str, Any], doc: Mapping[str, Any]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The operation's parameters by ``(in, name)``, its own over its path's."""
    params: dict[tuple[str, str], dict[str, Any]] = {}
    for source in (path_item.get("parameters"), operation.get("parameters")):
        for raw in source or []:
            param = resolve(raw, doc)
            if isinstance(param, Mapping) and isinstance(param.get("name"), str):
                params[(str(param.get("in")), param["name"])] = dict(param)
    return params


def param_schema(param: Mapping[str, Any], doc: Mapping[str, Any]) -> Mapping[str, Any]:
    """The schema of a parameter ({} when it has none)."""
    schema = param.get("schema", param)  # Swagger 2 describes the type on the parameter
    resolved = resolve(schema, doc)
    return resolved if isinstance(resolved, Mapping) else {}


def success_codes(operation: Mapping[str, Any]) -> list[int]:
    """The 2xx statuses the operation documents ([200] when it documents none)."""
    responses = operation.get("responses")
    codes = sorted(
        {
            int(str(code))
            for code in (responses if isinstance(responses, Mapping) else {})
            if str(code).isdigit() and 200 <= int(str(code)) < 300
        }
    )
    return codes or [200]


def json_media(content: Mapping[str, Any]) -> str | None:
    """The first JSON media type among ``content``'s keys, or None."""
    for media in content:
        kind = str(media).split(";")[0].strip().lower()
        if kind == "application/json" or kind.endswith("+json"):
            return str(media)
    return None
