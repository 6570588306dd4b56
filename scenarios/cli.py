"""The ``chaoslab`` command.

Exit codes: 0 all expectations met, 1 some not met, 2 invalid input,
3 infrastructure failure.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

from assertions.engine import describe
from scenarios.console import Console
from scenarios.drill.commands import add_parser as add_drill_parser
from scenarios.drill.plan import DRILL_NAME
from scenarios.exceptions import ReportError, ScenarioInvalid, ScenarioNotFound
from scenarios.export.command import add_parser as add_export_parser
from scenarios.importers import add_parser as add_import_parser
from scenarios.ledger import clear_ledgers, leftovers, read_ledgers
from scenarios.loader import catalog, load, resolve
from scenarios.panic import panic
from scenarios.profiles import is_profile, load_profile, rejected
from scenarios.scaffold import add_parser as add_init_parser
from scenarios.schema import profile_schema, scenario_schema
from scenarios.session import (
    EXIT_FAILED,
    EXIT_INFRA,
    EXIT_INVALID,
    EXIT_OK,
    Mode,
    execute,
    exit_code,
)
from stack.attached import AttachedStack
from stack.exceptions import ProfileRejected, StackError
from stack.local import COMPONENTS, DEFAULT_STATE_DIR, LocalStack, component_healthy, down, status
from stack.profile import default_profile
from stack.state import ComponentState, read_state


def _print_ready(name: str, record: ComponentState, seconds: float) -> None:
    pid = record.pid if record.pid is not None else "-"
    print(f"  {name:<13} {record.url:<50} pid {pid:<8} ready in {seconds:5.2f} s", flush=True)


def cmd_list(_args: argparse.Namespace) -> int:
    for name, path in catalog().items():
        try:
            title = load(path).title
        except ScenarioInvalid as exc:
            title = f"INVALID: {exc.problems[0].message}"
        print(f"{name:<22} {title}")
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    try:
        path = resolve(args.scenario)
        scenario = load(path)
    except (ScenarioNotFound, ScenarioInvalid) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(f"{scenario.name}: {scenario.title}  ({path})\n")
    print(scenario.story.strip() + "\n" if scenario.story else "", end="")
    load_ = scenario.load
    print(f"\nload: {load_.users} users ({load_.shape}) for {load_.duration:g} s")
    for fault in scenario.faults:
        print(f"fault {fault.id}: {fault.kind} at {fault.at:g}s for {fault.duration:g}s")
    for exp in scenario.expectations:
        print(f"expect {exp.id} [{exp.kind}]: {exp.description or describe(exp)}")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    code = EXIT_OK
    for name in args.files:
        try:
            print(f"{name}: ok ({_validated(Path(name))})")
        except ScenarioInvalid as exc:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            code = EXIT_INVALID
    return code


def _validated(path: Path) -> str:
    """Check a scenario or a target profile file; what it holds, in a few words."""
    if is_profile(path):
        profile = load_profile(path)
        rules = f", rules at time scale {profile.rule_scale()}" if profile.rules else ""
        return f"target profile {profile.name}, {len(profile.dependencies)} dependencies{rules}"
    scenario = load(path)
    return (
        f"{scenario.name}, {len(scenario.faults)} faults, "
        f"{len(scenario.expectations)} expectations, target {scenario.profile.name}"
    )


def _worker_count(text: str) -> int:
    """``--load-workers``: what ``load.workers`` accepts (0 to 64)."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= count <= 64:
        raise argparse.ArgumentTypeError(f"{count} workers: choose from 0 to 64")
    return count


def cmd_run(args: argparse.Namespace) -> int:
    if args.stack == "compose" and args.fresh:
        print(
            "error: --fresh starts a local stack; the compose stack is `chaoslab up "
            "--stack compose`",
            file=sys.stderr,
        )
        return EXIT_INVALID
    try:
        source = resolve(args.scenario)
        scenario = load(source)
    except (ScenarioNotFound, ScenarioInvalid) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if args.load_workers is not None:
        load_settings = scenario.load.model_copy(update={"workers": args.load_workers})
        scenario = scenario.model_copy(update={"load": load_settings})
    out_dir: Path = args.out or Path("out") / scenario.name
    mode: Mode = "control" if args.control else ("no_fault" if args.no_fault else "fault")
    try:
        journal = execute(
            scenario,
            source=source,
            out_dir=out_dir,
            state_dir=args.state_dir,
            seed=args.seed,
            mode=mode,
            fresh=args.fresh,
            keep_stack=args.keep_stack,
            console=Console(quiet=args.quiet),
            attach_only=args.stack == "compose",  # runs on what `up --stack compose` started
        )
    except ScenarioInvalid as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    _say(f"journal: {out_dir / 'journal.json'}  junit: {out_dir / 'junit.xml'}")
    _say(f"replay:  chaoslab run {args.scenario} --seed {journal.seed}")
    return exit_code(journal)


def cmd_report(args: argparse.Namespace) -> int:
    from scenarios.report import render_report

    try:
        print(render_report(args.run_dir))
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK


def cmd_matrix(args: argparse.Namespace) -> int:
    from scenarios.report import build_matrix, journals_in, write_matrix

    source: Path = args.from_dir or args.out or Path("out") / "matrix"
    if args.from_dir is None:
        for name, path in catalog().items():
            _say(f"running {name} for the matrix...")
            execute(
                load(path),
                source=path,
                out_dir=source / name,
                state_dir=args.state_dir,
                console=Console(quiet=True),
            )
    journals = journals_in(source)
    if not journals:
        print(f"error: no run journals (*/journal.json) under {source}", file=sys.stderr)
        return EXIT_INVALID
    html, md = write_matrix(build_matrix(journals), args.out or source)
    _say(f"matrix: {html}  {md}")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    print(profile_schema() if args.profile else scenario_schema(), end="")
    return EXIT_OK


def cmd_up(args: argparse.Namespace) -> int:
    if args.stack == "compose":
        return _up_compose(args)
    state_dir: Path = args.state_dir
    existing = status(state_dir)
    if existing is not None and existing.complete and existing.owner_pid is None:
        unhealthy = [
            name for name, rec in existing.components.items() if not component_healthy(name, rec)
        ]
        if not unhealthy:
            print(f"the local stack is already up (state in {state_dir}); `chaoslab status`")
            for line in _leftover_lines(state_dir):
                print(f"warning: {line}; `chaoslab panic` undoes them", file=sys.stderr)
            return EXIT_OK
        print(f"cleaning up a broken stack ({', '.join(unhealthy)} not healthy)")
    for line in _leftover_lines(state_dir):
        print(f"note: {line}; they went with the old stack")
    clear_ledgers(state_dir.resolve())
    try:
        profile = default_profile() if args.target is None else load_profile(args.target)
    except ScenarioInvalid as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(f"starting the local stack for {profile.name} (state in {state_dir})", flush=True)
    # Started with the default settings, so a scenario that keeps them restarts nothing.
    lab = LocalStack(
        state_dir,
        profile=profile,
        progress=_print_ready,
        detached=True,
        seed=args.seed,
        wait_for_target=profile.url is None,
    )
    try:
        lab.up()
    except ProfileRejected as exc:
        print(f"error: {rejected(profile, exc)}", file=sys.stderr)
        return EXIT_INVALID
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INFRA
    except KeyboardInterrupt:
        print("interrupted: stopped what was started", file=sys.stderr)
        return EXIT_INFRA
    if args.target is not None:
        _print_exports(lab)
    ep = lab.endpoints
    print(f"dashboard: {ep.dashboard_url}   Bugsink login: {ep.bugsink_login}")
    print("up. `chaoslab status` shows it, `chaoslab down` stops it.")
    return EXIT_OK


def _up_compose(args: argparse.Namespace) -> int:
    """``up --stack compose``: compose/compose.yml with Docker Compose v2 (detached)."""
    from stack.compose_stack import ComposeStack

    if args.target is not None:
        print("error: --target runs on the local stack only", file=sys.stderr)
        return EXIT_INVALID
    state_dir: Path = args.state_dir
    for line in _leftover_lines(state_dir):
        print(f"note: {line}; they went with the old stack")
    print(f"starting the compose stack (state in {state_dir})", flush=True)
    lab = ComposeStack(state_dir, seed=args.seed)
    try:
        lab.up()
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INFRA
    except KeyboardInterrupt:
        print("interrupted: removed what was started", file=sys.stderr)
        return EXIT_INFRA
    clear_ledgers(state_dir.resolve())
    for name, record in lab.state.components.items():
        print(f"  {name:<13} {record.url}")
    ep = lab.endpoints
    print(f"dashboard: {ep.dashboard_url}   Bugsink login: {ep.bugsink_login}")
    print("up. `chaoslab status` shows it, `chaoslab down` stops it.")
    return EXIT_OK


def _print_exports(lab: LocalStack) -> None:
    """The environment for a service the user starts: the profile's, plus the usual names."""
    ep = lab.endpoints
    exports = {
        **ep.target_env,
        "SENTRY_DSN": ep.sentry_dsn,
        "OTEL_EXPORTER_OTLP_ENDPOINT": ep.traces_url,
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": ep.otlp_endpoint,
        "OTEL_SERVICE_NAME": lab.profile.service,
    }
    for name, listen in ep.proxies.items():
        exports[f"CHAOSLAB_{name.upper().replace('-', '_')}_ADDRESS"] = listen
    for key in list(ep.target_env):
        exports[key] = ep.target_env[key]  # the profile's own names win
    where = "your service" if lab.profile.url is not None else "the service the lab started"
    print(f"# the environment of {where} (dependencies through their proxies):")
    for key, value in exports.items():
        print(f"export {key}={shlex.quote(value)}")
    if lab.profile.url is not None:
        print(f"# start your service with it, listening at {lab.profile.url}; runs wait for it")


def _leftover_lines(state_dir: Path) -> list[str]:
    return [
        f"run {ledger.run_id} ({ledger.scenario}, pid {ledger.pid}, dead) left: "
        + ", ".join(e.description for e in ledger.pending)
        for ledger in leftovers(state_dir.resolve())
    ]


def cmd_status(args: argparse.Namespace) -> int:
    state = status(args.state_dir)
    components = {} if state is None else state.components
    entries: dict[str, dict[str, object]] = {
        name: {"url": record.url, "pid": record.pid, "healthy": component_healthy(name, record)}
        for name, record in components.items()
    }
    ledgers = read_ledgers(args.state_dir.resolve())
    faults = [
        {
            "run_id": ledger.run_id,
            "scenario": ledger.scenario,
            "pid": ledger.pid,
            "running": ledger.owner_alive,
            # A game-day drill's faults are the responders' puzzle: `drill end` reveals them.
            "pending": (
                [f"{len(ledger.pending)} hidden until `chaoslab drill end`"]
                if ledger.scenario == DRILL_NAME and ledger.pending
                else [e.description for e in ledger.pending]
            ),
        }
        for _path, ledger in ledgers
        if ledger.pending or ledger.owner_alive
    ]
    report = {
        "stack": "local" if state is None else state.stack,
        "state_dir": str(args.state_dir.resolve()),
        "components": entries,
        "faults": faults,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    elif state is None:
        print(f"no stack is up (state dir {args.state_dir})")
    else:
        for name in [*COMPONENTS, *(n for n in entries if n not in COMPONENTS)]:
            if name in entries:
                entry = entries[name]
                mark = "healthy" if entry["healthy"] else "DOWN"
                print(f"  {name:<13} {entry['url']:<50} pid {entry['pid']!s:<8} {mark}")
        for ledger_info in faults:
            who = "running" if ledger_info["running"] else "DEAD"
            print(
                f"  run {ledger_info['run_id']} ({ledger_info['scenario']}, {who}) faults "
                f"applied: {', '.join(map(str, ledger_info['pending'])) or 'none'}"  # type: ignore[call-overload]  # list of str
            )
    leftover = _leftover_lines(args.state_dir)
    for line in leftover:
        print(f"warning: {line}; `chaoslab panic` undoes them", file=sys.stderr)
    if state is None:
        return EXIT_OK
    all_healthy = all(entry["healthy"] for entry in entries.values())
    return EXIT_OK if all_healthy and not leftover else EXIT_FAILED


def cmd_down(args: argparse.Namespace) -> int:
    for line in _leftover_lines(args.state_dir):
        print(f"note: {line}; they go with the stack")
    stopped = down(args.state_dir)
    clear_ledgers(args.state_dir.resolve())
    print("nothing was running" if not stopped else f"down ({len(stopped)} processes stopped)")
    return EXIT_OK


def restarter(state_dir: Path) -> Callable[[str], None]:
    """Restart a recorded app component of the stack in ``state_dir`` (a killed classifier)."""

    def restart(component: str) -> None:
        state = read_state(state_dir)
        if state is None:
            raise StackError(f"no stack is recorded in {state_dir}")
        AttachedStack(state).restart(component)

    return restart


def cmd_panic(args: argparse.Namespace) -> int:
    state_dir: Path = args.state_dir.resolve()
    restart = restarter(state_dir)
    report = panic(state_dir, restart, say=_say)
    if not report.undone and report.clean:
        _say("nothing to undo: no fault is applied on this stack")
    for problem in report.problems:
        print(f"error: {problem}", file=sys.stderr)
    for description in report.remaining:
        print(f"error: still applied: {description}", file=sys.stderr)
    if report.clean:
        _say("the stack is clean")
        return EXIT_OK
    return EXIT_INFRA


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chaoslab", description="Chaos and load-testing lab for incident replay."
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help="where the stack keeps its state and logs (default .chaoslab/)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="the catalog of scenarios")
    ls.set_defaults(func=cmd_list)
    show = sub.add_parser("show", help="a scenario's story, faults and expectations")
    show.add_argument("scenario", help="catalog name or scenario file")
    show.set_defaults(func=cmd_show)
    val = sub.add_parser(
        "validate", help="check scenario and target profile files; exit 2 on any problem"
    )
    val.add_argument("files", nargs="+", help="scenario or target profile YAML files")
    val.set_defaults(func=cmd_validate)
    schema = sub.add_parser("schema", help="the JSON Schema of scenario files")
    schema.add_argument(
        "--profile", action="store_true", help="the JSON Schema of target profiles instead"
    )
    schema.set_defaults(func=cmd_schema)
    run = sub.add_parser("run", help="replay a scenario and check what surfaced, how fast")
    run.add_argument("scenario", help="catalog name or scenario file")
    run.add_argument("--stack", choices=["local", "compose"], default="local")
    run.add_argument("--out", type=Path, default=None, help="where to write journal.json/junit.xml")
    run.add_argument("--seed", type=int, default=None, help="seed for every random choice")
    kind = run.add_mutually_exclusive_group()
    kind.add_argument(
        "--no-fault", action="store_true", help="control run: identical load, nothing injected"
    )
    kind.add_argument(
        "--control",
        action="store_true",
        help="the fault run, then the identical no-fault run on the same stack: each "
        "detection is judged proven, vacuous or missed",
    )
    run.add_argument(
        "--fresh",
        action="store_true",
        help="a throwaway stack for this run, even when `chaoslab up` left one running",
    )
    run.add_argument("--quiet", action="store_true", help="print only the verdict table")
    run.add_argument(
        "--load-workers",
        type=_worker_count,
        default=None,
        metavar="N",
        help="run Locust as a master on 127.0.0.1 plus N local workers (0: one process); "
        "overrides the scenario's load.workers",
    )
    run.add_argument(
        "--keep-stack",
        action="store_true",
        help="when the run starts a stack, leave it running afterwards (faults are still "
        "rolled back); `chaoslab down` stops it",
    )
    run.set_defaults(func=cmd_run)
    up = sub.add_parser("up", help="start the local stack and leave it running")
    up.add_argument("--stack", choices=["local", "compose"], default="local")
    up.add_argument("--seed", type=int, default=None, help="seed for every random choice")
    up.add_argument(
        "--target",
        type=Path,
        default=None,
        help="a target profile (default: the bundled document service); prints the "
        "environment to export for a service you start yourself",
    )
    up.set_defaults(func=cmd_up)
    st = sub.add_parser("status", help="show each component with URL, PID and health")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    st.set_defaults(func=cmd_status)
    dn = sub.add_parser("down", help="stop the stack (idempotent; cleans up after a crash)")
    dn.set_defaults(func=cmd_down)
    pn = sub.add_parser(
        "panic",
        help="emergency stop: abort runs, undo every fault on the stack (idempotent)",
    )
    pn.set_defaults(func=cmd_panic)
    rp = sub.add_parser("report", help="render report.html of a run again")
    rp.add_argument("run_dir", type=Path, help="a run's directory (or its journal.json)")
    rp.set_defaults(func=cmd_report)
    mx = sub.add_parser(
        "matrix", help="which signal caught each catalog scenario, how fast (matrix.html/.md)"
    )
    mx.add_argument(
        "--from",
        dest="from_dir",
        type=Path,
        default=None,
        help="build it from the run directories under DIR instead of running the catalog",
    )
    mx.add_argument(
        "--out", type=Path, default=None, help="where to write it (default: out/matrix)"
    )
    mx.set_defaults(func=cmd_matrix)
    add_init_parser(sub)
    add_drill_parser(sub)
    add_export_parser(sub)
    add_import_parser(sub)
    return parser


def _say(text: str) -> None:
    print(text, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`chaoslab list | head -3`): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INFRA
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
