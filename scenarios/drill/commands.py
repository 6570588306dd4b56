"""``chaoslab drill ...``: a facilitator, responders and a scribe on one running stack.

Every command reads and writes the drill's files under the state dir
(:mod:`scenarios.drill.store`), so each works from any terminal. What a
responder runs (``start``'s output, ``status``, ``declare``, ``note``) never
shows the scenario, the fault or when it starts; ``reveal --facilitator`` and
``hint --facilitator`` do, on purpose; ``end`` reveals and scores everything.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from scenarios.drill.finish import cmd_abort, cmd_end
from scenarios.drill.model import (
    SIGNALS,
)
from scenarios.drill.plan import (
    DEFAULT_AT,
    DEFAULT_MAX_DURATION,
    DIAGNOSES,
)
from scenarios.drill.start import cmd_start
from scenarios.drill.team import cmd_declare, cmd_hint, cmd_note, cmd_reveal, cmd_status
from scenarios.exceptions import DrillInvalid, ScenarioInvalid
from scenarios.session import EXIT_INVALID

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "start": cmd_start,
    "status": cmd_status,
    "declare": cmd_declare,
    "note": cmd_note,
    "hint": cmd_hint,
    "reveal": cmd_reveal,
    "end": cmd_end,
    "abort": cmd_abort,
}


def run_command(args: argparse.Namespace) -> int:
    try:
        return COMMANDS[args.drill_command](args)
    except DrillInvalid as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except ScenarioInvalid as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    drill = sub.add_parser(
        "drill",
        help="game-day drills: a hidden fault, a team hunting it, scored",
        description="A game day on the stack `chaoslab up` started: the facilitator starts "
        "a drill, responders declare what they see, `drill end` reveals and scores it. "
        "Walk-through: README, 'Run a game day'; reference: docs/drills.md.",
    )
    drill.set_defaults(func=run_command)
    cmds = drill.add_subparsers(dest="drill_command", required=True)
    start = cmds.add_parser(
        "start", help="start the load now and a hidden fault at a random moment"
    )
    start.add_argument("scenario", nargs="?", help="catalog name or scenario file")
    start.add_argument(
        "--pick", action="store_true", help="let the lab choose the scenario (seeded, secret)"
    )
    start.add_argument(
        "--from",
        dest="tags",
        nargs="+",
        default=[],
        metavar="TAG",
        help="with --pick: choose among catalog scenarios carrying any of these tags",
    )
    start.add_argument("--seed", type=int, default=None, help="seed of the pick and the offset")
    start.add_argument(
        "--at",
        default=DEFAULT_AT,
        help=f"when the fault may start after the load, a range (default {DEFAULT_AT})",
    )
    start.add_argument(
        "--max-duration",
        default=DEFAULT_MAX_DURATION,
        help=f"the drill's load stops by itself after this (default {DEFAULT_MAX_DURATION})",
    )
    start.add_argument("--facilitator", required=True, metavar="NAME")
    start.set_defaults(drill_command="start")
    status = cmds.add_parser("status", help="what responders may know: time, screens, claims")
    status.add_argument("--json", action="store_true")
    declare = cmds.add_parser("declare", help="a responder declares what they see (timed)")
    declare.add_argument("text")
    declare.add_argument("--by", required=True, metavar="NAME")
    declare.add_argument("--signal", choices=SIGNALS)
    declare.add_argument("--component", metavar="NAME", help="see `drill status` for the names")
    declare.add_argument("--kind", choices=sorted(DIAGNOSES))
    note = cmds.add_parser("note", help="the scribe's timeline")
    note.add_argument("text")
    note.add_argument("--by", metavar="NAME", default=None)
    for name, what in (
        ("hint", "give the team one more hint (the component, then the kind); recorded"),
        ("reveal", "the facilitator's secret: which scenario, when"),
    ):
        cmd = cmds.add_parser(name, help=what)
        cmd.add_argument(
            "--facilitator", action="store_true", required=True, help="yes, I am the facilitator"
        )
        if name == "reveal":
            cmd.add_argument("--json", action="store_true")
    for name, what in (
        ("end", "stop the load, roll back, judge the signals, write the drill journal"),
        ("abort", "stop the drill now and roll everything back, unscored"),
    ):
        cmd = cmds.add_parser(name, help=what)
        cmd.add_argument(
            "--out", type=Path, default=None, help="where to write it (default out/drills/ID)"
        )
