"""``chaoslab export promtool RUN_DIR [--out FILE]``: a run as a ``promtool test rules`` file.

Exit codes: 0 written and passing promtool; 2 not a run directory, or no
series recorded (older run, Prometheus unreachable at the end of the run);
3 promtool missing, or failing on the file it was just given.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from scenarios.export.exceptions import ExportError, ExportFailed, SeriesMissing
from scenarios.export.promtool import export, read_journal
from scenarios.export.rulefiles import refresh
from scenarios.session import EXIT_INFRA, EXIT_INVALID, EXIT_OK

DEFAULT_NAME = "promtool_test.yml"


def cmd_promtool(args: argparse.Namespace) -> int:
    run_dir: Path = args.run_dir
    if run_dir.name == "journal.json":
        run_dir = run_dir.parent
    out: Path = args.out if args.out is not None else run_dir / DEFAULT_NAME
    started = time.monotonic()
    try:
        journal = read_journal(run_dir)
        print(f"exporting run {journal.run_id} of {journal.scenario} from {run_dir}", flush=True)
        summary = export(run_dir, out, say=lambda text: print(text, flush=True))
    except ExportFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INFRA
    except (SeriesMissing, ExportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    for group in summary.groups:
        checks = f"{sum(group.checks.values())} checks on {len(group.checks)} alerts"
        if group.kind == "control run":
            silent = ", ".join(group.firing) or "none fired in the fault run"
            print(f"  {group.name}: {checks}; expected silent: {silent}")
            continue
        fired = ", ".join(f"{name} ({n} firing checks)" for name, n in group.firing.items())
        print(f"  {group.name}: {checks}; fired: {fired or 'none'}")
    for note in summary.notes:
        print(f"  note: {note}")
    rules = ", ".join(str(path) for path in summary.rule_files)
    print(
        f"wrote {out} (rules: {rules}); promtool test rules passes "
        f"({time.monotonic() - started:.1f} s)"
    )
    return EXIT_OK


def cmd_rules(args: argparse.Namespace) -> int:
    folder: Path = args.folder
    if not folder.is_dir():
        print(f"error: {folder}: not a directory", file=sys.stderr)
        return EXIT_INVALID
    try:
        changed = refresh(folder)
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    for path in changed:
        print(f"rewrote {path} from its source")
    if not changed:
        print(f"every scaled rule copy in {folder} is up to date")
    return EXIT_OK


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export_parser = sub.add_parser(
        "export",
        help="turn a recorded run into a test that needs no stack",
        description="Turn a run directory into a test that runs without the lab. "
        "Reference: docs/promtool.md.",
    )
    kinds = export_parser.add_subparsers(dest="export_kind", required=True)
    promtool = kinds.add_parser(
        "promtool",
        help="a `promtool test rules` file: the run's series, its alerts, its control run",
    )
    promtool.add_argument("run_dir", type=Path, help="a run's directory (or its journal.json)")
    promtool.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"the test file to write (default RUN_DIR/{DEFAULT_NAME}); scaled rule copies "
        "go next to it",
    )
    promtool.set_defaults(func=cmd_promtool)
    rules = kinds.add_parser(
        "rules",
        help="write the scaled rule copies next to exported tests again from their source "
        "(after a rule change)",
    )
    rules.add_argument("folder", type=Path, help="a folder of exported tests")
    rules.set_defaults(func=cmd_rules)


__all__ = ["add_parser", "cmd_promtool", "cmd_rules"]
