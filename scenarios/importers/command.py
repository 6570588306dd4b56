"""The command: ``chaoslab import chaostoolkit EXPERIMENT [--out SCENARIO.yaml]``."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path

from assertions.expectations import parse_seconds
from scenarios.exceptions import ScenarioInvalid
from scenarios.importers.chaostoolkit import Imported, ImportOptions, import_experiment
from scenarios.importers.document import render
from scenarios.importers.exceptions import ExperimentRejected, ImporterError
from scenarios.loader import load
from scenarios.session import EXIT_INFRA, EXIT_INVALID, EXIT_OK


def default_out(experiment: Path) -> Path:
    """``EXPERIMENT.scenario.yaml`` beside the experiment."""
    return experiment.with_name(f"{experiment.stem}.scenario.yaml")


def write_scenario(imported: Imported, out: Path, *, force: bool = False) -> Path:
    """Write the scenario at ``out`` once it validates as ``chaoslab validate`` would.

    Written under a temporary name in the same folder and renamed into place; an
    existing file is only replaced with ``force``.
    """
    if out.exists() and not force:
        raise ImporterError(f"{out} already exists: --force replaces it")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, staged_name = tempfile.mkstemp(prefix=f".{out.stem}-", suffix=".yaml", dir=out.parent)
    staged = Path(staged_name)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(render(imported, out))
        try:
            load(staged)
        except ScenarioInvalid as exc:
            raise ImporterError(
                f"the imported scenario does not validate (a bug of the importer):\n{exc}"
            ) from exc
        os.replace(staged, out)
    except BaseException:
        with contextlib.suppress(OSError):
            staged.unlink()
        raise
    return out


def cmd_chaostoolkit(args: argparse.Namespace) -> int:
    experiment: Path = args.experiment
    out: Path = args.out or default_out(experiment)
    profile: Path | None = args.target
    options = ImportOptions(
        name=args.name,
        profile=profile,
        profile_ref=None if profile is None else os.path.relpath(profile, out.parent),
        lead_in=args.lead_in,
        tail=args.tail,
        users=args.users,
    )
    try:
        imported = import_experiment(experiment, options)
        write_scenario(imported, out, force=args.force)
    except ExperimentRejected as exc:
        for problem in exc.problems:
            print(f"{experiment}: {problem}", file=sys.stderr)
        count = len(exc.problems)
        print(
            f"error: {count} part{'s' if count != 1 else ''} of the experiment cannot be "
            "expressed by the lab; nothing written",
            file=sys.stderr,
        )
        return EXIT_INVALID
    except ScenarioInvalid as exc:  # the --target profile
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except ImporterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        print(f"error: cannot write {exc.filename or out}: {exc.strerror}", file=sys.stderr)
        return EXIT_INFRA
    scenario = imported.scenario
    print(
        f"wrote {out}: {scenario.name}, {len(scenario.faults)} faults, "
        f"{len(scenario.expectations)} expectations, load {scenario.load.duration:g}s"
    )
    for note in imported.notes:
        print(f"note: {note}")
    return EXIT_OK


def _seconds(text: str) -> float:
    try:
        return parse_seconds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``import`` on the ``chaoslab`` command's subparsers."""
    parser = sub.add_parser("import", help="turn another tool's experiment into a scenario file")
    tools = parser.add_subparsers(dest="tool", required=True)
    ctk = tools.add_parser(
        "chaostoolkit",
        help="a Chaos Toolkit experiment (JSON or YAML)",
        description=(
            "Map a Chaos Toolkit experiment onto a scenario: steady-state probes become "
            "expectations, chaostoolkit-toxiproxy and process actions faults on the timeline "
            "(pauses give their offsets and durations), rollbacks are checked against the "
            "lab's undos. Whatever the lab cannot express is listed with its JSON path "
            "(exit 2) and nothing is written. See docs/chaostoolkit.md."
        ),
    )
    ctk.add_argument("experiment", type=Path, help="the experiment file (.json, .yaml, .yml)")
    ctk.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="SCENARIO.yaml",
        help="where to write the scenario (default: EXPERIMENT.scenario.yaml beside it)",
    )
    ctk.add_argument("--name", default=None, help="scenario name (default: from the title)")
    ctk.add_argument(
        "--target",
        type=Path,
        default=None,
        metavar="PROFILE",
        help="the target profile whose proxies and processes the experiment names "
        "(default: the bundled document service: postgres, downstream)",
    )
    ctk.add_argument(
        "--lead-in",
        type=_seconds,
        default=15.0,
        help="load before the method starts (default 15s)",
    )
    ctk.add_argument(
        "--tail",
        type=_seconds,
        default=20.0,
        help="load after the method, where the steady state must hold again (default 20s)",
    )
    ctk.add_argument("--users", type=int, default=10, help="Locust users (default 10)")
    ctk.add_argument("--force", action="store_true", help="replace an existing scenario file")
    ctk.set_defaults(func=cmd_chaostoolkit)


__all__ = ["add_parser", "cmd_chaostoolkit", "default_out", "write_scenario"]
