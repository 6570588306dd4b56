"""``chaoslab init URL``: a target profile and a first scenario for a service already running.

The service is asked, over loopback HTTP only, for what a profile needs
(:mod:`~scenarios.scaffold.probe`): a health path, a metrics path answering
Prometheus text, and an OpenAPI (3.x) or Swagger (2.0) document
(:mod:`~scenarios.scaffold.openapi`). From the document comes a request mix
(:mod:`~scenarios.scaffold.mix`, its bodies from
:mod:`~scenarios.scaffold.examples`); without one the mix is a placeholder.

Two files are written into the output folder (:mod:`~scenarios.scaffold.documents`):
``profile.yaml`` and ``first-scenario.yaml`` (steady load on the healthy
service, no fault, and expectations that hold on a healthy service). Both are
checked by the same loaders as ``chaoslab validate`` before they land, each by
an atomic rename, and an existing file is only replaced with ``--force``
(:mod:`~scenarios.scaffold.writer`). :mod:`~scenarios.scaffold.command` is the
command itself.
"""

from __future__ import annotations

from scenarios.scaffold.command import add_parser, cmd_init, init, main, warn_metrics
from scenarios.scaffold.documents import (
    PROFILE_FILE,
    PROFILE_SCHEMA,
    SCENARIO_FILE,
    SCENARIO_SCHEMA,
    render_profile,
    render_scenario,
)
from scenarios.scaffold.errors import InitError
from scenarios.scaffold.examples import example_value
from scenarios.scaffold.mix import (
    GET_WEIGHT,
    MAX_REQUESTS,
    VAR_RANGE,
    WRITE_WEIGHT,
    Mix,
    fallback_mix,
    propose_mix,
)
from scenarios.scaffold.names import NAME_PATTERN, choose_name, slug
from scenarios.scaffold.openapi import parse_openapi
from scenarios.scaffold.probe import (
    HEALTH_PATHS,
    LIVENESS_PATHS,
    LOOPBACK_HOSTS,
    METRICS_PATHS,
    OPENAPI_PATHS,
    TIMEOUT_S,
    Discovery,
    check_url,
    discover,
    is_prometheus_text,
)
from scenarios.scaffold.writer import write_files

__all__ = [
    "GET_WEIGHT",
    "HEALTH_PATHS",
    "LIVENESS_PATHS",
    "LOOPBACK_HOSTS",
    "MAX_REQUESTS",
    "METRICS_PATHS",
    "NAME_PATTERN",
    "OPENAPI_PATHS",
    "PROFILE_FILE",
    "PROFILE_SCHEMA",
    "SCENARIO_FILE",
    "SCENARIO_SCHEMA",
    "TIMEOUT_S",
    "VAR_RANGE",
    "WRITE_WEIGHT",
    "Discovery",
    "InitError",
    "Mix",
    "add_parser",
    "check_url",
    "choose_name",
    "cmd_init",
    "discover",
    "example_value",
    "fallback_mix",
    "init",
    "is_prometheus_text",
    "main",
    "parse_openapi",
    "propose_mix",
    "render_profile",
    "render_scenario",
    "slug",
    "warn_metrics",
    "write_files",
]
