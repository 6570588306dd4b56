"""The command: ``chaoslab init URL`` (and ``python -m scenarios.scaffold URL``)."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from scenarios.scaffold.documents import (
    PROFILE_FILE,
    SCENARIO_FILE,
    render_profile,
    render_scenario,
)
from scenarios.scaffold.errors import InitError
from scenarios.scaffold.mix import MAX_REQUESTS, Mix, fallback_mix, propose_mix
from scenarios.scaffold.names import choose_name
from scenarios.scaffold.probe import HEALTH_PATHS, METRICS_PATHS, Discovery, check_url, discover
from scenarios.scaffold.writer import write_files
from scenarios.session import EXIT_INFRA, EXIT_OK


def init(
    url: str,
    out: Path | None = None,
    name: str | None = None,
    *,
    force: bool = False,
    say: Callable[[str], None] = print,
    client: httpx.Client | None = None,
) -> list[Path]:
    """Discover the service at ``url`` and write its profile and first scenario.

    ``client`` (its ``base_url`` the service's) replaces the one made for ``url``.
    """
    base = check_url(url)
    if name is not None:
        choose_name(name, None)  # a bad --name is refused before the service is asked
    found = discover(base, client)
    if found.ready is None:
        raise InitError(
            f"{base} answers, but none of {', '.join(HEALTH_PATHS)} answers 2xx: "
            "the lab needs a health path to wait for"
        )
    name = choose_name(name, found.openapi)
    out_dir = out if out is not None else Path("chaoslab") / name
    mix = propose_mix(found.openapi) if found.openapi is not None else Mix()
    if not mix.requests:
        fallback = fallback_mix(found)
        fallback.skipped = mix.skipped
        mix = fallback
    texts = {
        PROFILE_FILE: render_profile(name, found, mix, out_dir),
        SCENARIO_FILE: render_scenario(name, out_dir),
    }
    written = write_files(out_dir, texts, force=force)
    for line in _summary(found, mix, name):
        say(line)
    warning = warn_metrics(found)
    if warning is not None:
        print(warning, file=sys.stderr)
    for path in written:
        say(f"wrote {path}")
    profile, scenario = (shlex.quote(str(p)) for p in written)
    say("next:")
    say(f"  chaoslab validate {profile} {scenario}")
    say(f"  chaoslab up --target {profile}")
    say(f"  chaoslab run {scenario}")
    return written


def _summary(found: Discovery, mix: Mix, name: str) -> Iterator[str]:
    yield f"found at {found.url} (named {name}):"
    health = f"{found.ready}" + (f" (ready), {found.live} (live)" if found.live else "")
    if found.ready_failed:
        health += f"  -- answered {found.ready_status} just now"
    yield f"  health   {health}"
    yield f"  metrics  {found.metrics or 'none'}"
    if found.openapi_path is not None:
        yield f"  openapi  {found.openapi_path}"
    else:
        yield "  openapi  none"
    source = "from OpenAPI" if not mix.note else f"placeholder: {mix.note}"
    yield f"  requests {len(mix.requests)} ({source})"
    for line in mix.skipped[:8]:
        yield f"    left out {line}"
    if len(mix.skipped) > 8:
        yield f"    left out {len(mix.skipped) - 8} more"
    if mix.left_out:
        yield f"    left out {mix.left_out} more operations (cap {MAX_REQUESTS})"


def cmd_init(args: argparse.Namespace) -> int:
    try:
        init(args.url, args.out, args.name, force=args.force)
    except InitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except OSError as exc:
        print(f"error: cannot write {exc.filename or args.out}: {exc.strerror}", file=sys.stderr)
        return EXIT_INFRA
    return EXIT_OK


def warn_metrics(found: Discovery) -> str | None:
    """The warning printed when no metrics path was found."""
    if found.metrics is not None:
        return None
    return (
        "warning: no Prometheus metrics at "
        f"{', '.join(METRICS_PATHS)}: profile.yaml says metrics: [/metrics], and the lab "
        "refuses to start this target until that path answers Prometheus text"
    )


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``init`` on the ``chaoslab`` command's subparsers."""
    parser = sub.add_parser(
        "init",
        help="write a target profile and a first scenario for a service running on loopback",
        description=(
            "Ask the service at URL for its health path, Prometheus metrics and OpenAPI "
            "document, and write DIR/profile.yaml (a request mix from the OpenAPI document) "
            "and DIR/first-scenario.yaml (steady load, no fault)."
        ),
    )
    parser.add_argument("url", help="the service's base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="where to write the two files (default: ./chaoslab/NAME/)",
    )
    parser.add_argument(
        "--name",
        default=None,
        help="the profile and job name (default: from the OpenAPI title, else 'service')",
    )
    parser.add_argument("--force", action="store_true", help="replace files already there")
    parser.set_defaults(func=cmd_init)


def main(argv: list[str] | None = None) -> int:
    """``python -m scenarios.scaffold URL``: the same as ``chaoslab init URL``."""
    parser = argparse.ArgumentParser(prog="chaoslab")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["init", *(sys.argv[1:] if argv is None else argv)])
    code: int = args.func(args)
    return code
