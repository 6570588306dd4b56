"""chaoslab's pytest plugin (``pytest11`` entry point ``chaoslab``).

It lives beside the runner because it runs scenarios; ``assertions`` (the
signal clients and the engine) knows nothing of it.

Options (group ``chaoslab``):

* ``--chaoslab-stack=local|compose|STATE_DIR`` (ini ``chaoslab_stack``, default
  ``local``). ``local``: the ``lab`` fixture starts a local stack for the
  session the first time a test asks for it, and each scenario run starts a
  stack of its own (in the session's temp dir) and stops it after the run.
  ``STATE_DIR``: a directory holding ``stack.json`` (``chaoslab up``,
  ``--chaoslab-keep-stack``) — ``lab`` and every scenario run use that running
  stack (runs attach to it, apply their target settings, never stop it, and
  take turns on it, also across ``pytest-xdist`` workers). ``compose`` needs
  Docker and says so.
* ``--chaoslab-keep-stack``: leave the stack the ``lab`` fixture started
  running, in ``.chaoslab/pytest`` under the rootdir (stop it with
  ``chaoslab --state-dir .chaoslab/pytest down``).
* ``--chaoslab-scenarios`` (ini ``chaoslab_scenarios``): collect scenario YAML
  files (a mapping with ``name`` and ``expectations``) as tests. Files named
  like ``chaoslab_scenario_files`` (default ``chaoslab_*.yaml chaoslab_*.yml``)
  are always collected. Each file runs its scenario once; each expectation is
  one test item named after its id, and JUnit gets its ``time_to_detect_s``.
* ``--chaoslab-control``: run each collected scenario file as ``chaoslab run
  --control`` does (the fault run, then the identical run without the fault);
  an item passes only when its expectation is *proven* (met with the fault,
  not without) or, for an ``absent`` expectation, *held* in both runs.
* ``--chaoslab-seed=N``: the seed of every scenario run (drawn when not given;
  JUnit records the one used), so a failing run can be replayed.
* ``--chaoslab-out=DIR``: where collected scenario runs write their journals.

A scenario file is read by :mod:`scenarios.loader`, the parser and rules of
``chaoslab validate``: an invalid file (duplicate keys, a broken ``faults:``
section, a bad expectation) is a collection error listing every problem with
its file and line. Deciding *whether* a YAML file is a scenario (without the
file-name pattern) only peeks at its top-level keys. Runs go through
:func:`scenarios.session.execute`, as ``chaoslab run`` does.

Fixtures: ``lab`` (session: a :class:`~assertions.lab.Lab`) and
``run_scenario`` (a callable running a named scenario or a file). Marker:
``chaoslab_scenario(name)`` binds a test to a scenario, the default of
``run_scenario()``.

pytest loads this plugin in every run of the repository, so loading it starts
nothing and imports little: the loader, the session, the stack driver and the
``assertions`` engine are imported by the functions that need them, and a
half-edited module elsewhere does not stop unrelated tests from running.
"""

from __future__ import annotations

import fnmatch
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import pytest
import yaml
from _pytest._code.code import ExceptionInfo, TerminalRepr
from _pytest.nodes import Node

from scenarios.exceptions import ScenarioError, ScenarioRunError

if TYPE_CHECKING:
    from assertions.expectations import Expectation
    from assertions.lab import Lab
    from scenarios.journal import ControlReport, ExpectationJudgement, Journal
    from scenarios.model import Scenario

MARKER = "chaoslab_scenario"
KEPT_STATE_DIR = Path(".chaoslab") / "pytest"
DEFAULT_SCENARIO_FILES = ("chaoslab_*.yaml", "chaoslab_*.yml")

Mode = Literal["fault", "no_fault", "control"]


class RunScenario(Protocol):
    """The ``run_scenario`` fixture: run a catalog name or a scenario file, return its journal."""

    def __call__(
        self,
        name_or_path: str | Path | None = None,
        *,
        no_fault: bool = False,
        control: bool = False,
        seed: int | None = None,
    ) -> Journal: ...


# -- options -----------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chaoslab", "chaoslab: chaos scenarios and signal expectations")
    group.addoption(
        "--chaoslab-stack",
        default=None,
        metavar="local|compose|STATE_DIR",
        help="stack for the lab fixture and scenario runs: start local ones (default), "
        "compose, or the state dir (with stack.json) of a stack that is already running",
    )
    group.addoption(
        "--chaoslab-keep-stack",
        action="store_true",
        default=False,
        help=f"leave the stack the lab fixture started running (state in {KEPT_STATE_DIR})",
    )
    group.addoption(
        "--chaoslab-scenarios",
        action="store_true",
        default=None,
        help="collect scenario YAML files as tests, one item per expectation",
    )
    group.addoption(
        "--chaoslab-control",
        action="store_true",
        default=False,
        help="run each collected scenario with its no-fault control run; an item passes "
        "only when its detection is proven (or its absent expectation held in both runs)",
    )
    group.addoption(
        "--chaoslab-seed",
        type=int,
        default=None,
        metavar="N",
        help="seed of every scenario run (default: drawn per run and recorded)",
    )
    group.addoption(
        "--chaoslab-out",
        default=None,
        metavar="DIR",
        help="where collected scenario runs write journal.json/junit.xml (default: a temp dir)",
    )
    parser.addini("chaoslab_stack", "default of --chaoslab-stack", default="local")
    parser.addini(
        "chaoslab_scenarios", "collect scenario YAML files as tests", type="bool", default=False
    )
    parser.addini(
        "chaoslab_scenario_files",
        "glob patterns of YAML files always collected as scenarios",
        type="args",
        default=list(DEFAULT_SCENARIO_FILES),
    )


@dataclass(frozen=True)
class StackChoice:
    kind: Literal["local", "compose", "state"]
    state_dir: Path | None = None


def stack_choice(config: pytest.Config) -> StackChoice:
    """The ``--chaoslab-stack`` value, checked: local, compose or an existing state dir."""
    raw = config.getoption("chaoslab_stack") or str(config.getini("chaoslab_stack"))
    if raw == "local":
        return StackChoice("local")
    if raw == "compose":
        return StackChoice("compose")
    path = Path(raw).expanduser()
    if path.name == "stack.json":
        path = path.parent
    if not path.is_absolute():
        path = Path(config.invocation_params.dir) / path
    if not (path / "stack.json").is_file():
        raise pytest.UsageError(
            f"--chaoslab-stack={raw}: expected 'local', 'compose' or the state dir of a "
            f"running stack, but {path / 'stack.json'} does not exist (start one with "
            "`chaoslab up`, or pass the dir that holds its stack.json)"
        )
    return StackChoice("state", path)


_SESSION_DIR = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(name): the test is bound to a chaoslab scenario (catalog name or YAML "
        "path); run_scenario() without a name runs it",
    )
    stack_choice(config)  # a wrong value is a usage error before anything runs


def pytest_unconfigure(config: pytest.Config) -> None:
    session_dir = config.stash.get(_SESSION_DIR, None)
    if session_dir is None:
        return
    from stack.local import down  # lazy: only when a scenario ran in this session

    down(session_dir / "stack", quiet=True)  # a safety net: each run stops what it started
    shutil.rmtree(session_dir, ignore_errors=True)


def _session_dir(config: pytest.Config) -> Path:
    """This pytest process's scratch dir (one per ``pytest-xdist`` worker)."""
    if _SESSION_DIR not in config.stash:
        config.stash[_SESSION_DIR] = Path(tempfile.mkdtemp(prefix="chaoslab-pytest-"))
    return config.stash[_SESSION_DIR]


# -- the lab fixture ---------------------------------------------------------------------


def _compose_unavailable() -> str:
    if shutil.which("docker") is None:
        return (
            "--chaoslab-stack=compose needs Docker (`docker compose`), and `docker` is not on "
            "PATH here. Use --chaoslab-stack=local (the default: every backend as a local "
            "process), or the state dir of a stack started elsewhere."
        )
    return (
        "--chaoslab-stack=compose: the plugin does not start the compose stack itself; "
        "start it with `chaoslab up --stack compose` and pass its state dir as "
        "--chaoslab-stack=DIR"
    )


@pytest.fixture(scope="session")
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    """The running stack as a :class:`~assertions.lab.Lab`: endpoints, clients, faults, expect."""
    from assertions.lab import Lab
    from stack.state import read_state  # lazy: loading the plugin imports no stack code

    config = request.config
    choice = stack_choice(config)
    if choice.kind == "compose":
        pytest.fail(_compose_unavailable(), pytrace=False)
    if choice.state_dir is not None:
        state = read_state(choice.state_dir)
        if state is None or not state.complete:
            pytest.fail(
                f"--chaoslab-stack={choice.state_dir}: no complete stack is recorded there "
                "(it is still starting, or was stopped)",
                pytrace=False,
            )
        yield Lab(state)
        return
    from stack.local import LocalStack  # lazy: starting processes only when a test asks

    keep = bool(config.getoption("chaoslab_keep_stack"))
    if keep:
        state_dir = Path(config.rootpath) / KEPT_STATE_DIR
    else:
        state_dir = Path(tempfile.mkdtemp(prefix="chaoslab-pytest-lab-"))
    stack = LocalStack(state_dir, detached=keep)
    stack.up()
    try:
        yield Lab(stack.state)
    finally:
        if keep:
            reporter = config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(
                    f"chaoslab: stack kept running (state in {state_dir}); reuse it with "
                    f"--chaoslab-stack={state_dir}, stop it with "
                    f"`chaoslab --state-dir {state_dir} down`"
                )
        else:
            stack.down()
            shutil.rmtree(state_dir, ignore_errors=True)


# -- running scenarios -------------------------------------------------------------------


def run_state_dir(config: pytest.Config) -> Path:
    """Where a scenario run finds its stack: the one passed, else one of its own."""
    choice = stack_choice(config)
    if choice.kind == "compose":
        raise ScenarioRunError(_compose_unavailable())
    if choice.state_dir is not None:
        return choice.state_dir
    # Nothing runs there: the session starts a stack for the run and stops it after.
    return _session_dir(config) / "stack"


def run_scenario_once(
    name_or_path: str | Path | Scenario,
    out_dir: Path,
    *,
    state_dir: Path,
    mode: Mode = "fault",
    seed: int | None = None,
    source: Path | None = None,
) -> Journal:
    """Run one scenario through :func:`scenarios.session.execute` on the stack in ``state_dir``."""
    from scenarios.loader import load, resolve
    from scenarios.model import Scenario
    from scenarios.session import execute

    if isinstance(name_or_path, Scenario):
        scenario = name_or_path
    else:
        source = resolve(str(name_or_path))
        scenario = load(source)
    # The session serializes runs on one stack (its run lock), across xdist workers too.
    return execute(
        scenario,
        source=source,
        out_dir=out_dir,
        state_dir=state_dir,
        seed=seed,
        mode=mode,
        fresh=False,
    )


def _bound_scenario(node: Node) -> str:
    marker = node.get_closest_marker(MARKER)
    if marker is None:
        raise ScenarioRunError(
            f"run_scenario() needs a scenario name or path, or a @pytest.mark.{MARKER}(name) "
            "on the test"
        )
    if len(marker.args) != 1 or not isinstance(marker.args[0], str | Path):
        raise ScenarioRunError(f"@pytest.mark.{MARKER} takes one scenario name or path")
    return str(marker.args[0])


@pytest.fixture
def run_scenario(request: pytest.FixtureRequest, tmp_path: Path) -> RunScenario:
    """Run a scenario end to end (stack, load, faults, verdicts) and return its journal."""
    node = request.node
    config = request.config

    def run(
        name_or_path: str | Path | None = None,
        *,
        no_fault: bool = False,
        control: bool = False,
        seed: int | None = None,
    ) -> Journal:
        if no_fault and control:
            raise ScenarioRunError("run_scenario(): no_fault and control exclude each other")
        name = name_or_path if name_or_path is not None else _bound_scenario(node)
        mode: Mode = "no_fault" if no_fault else "control" if control else "fault"
        out = tmp_path / mode / Path(str(name)).stem
        return run_scenario_once(
            name,
            out,
            state_dir=run_state_dir(config),
            mode=mode,
            seed=seed if seed is not None else config.getoption("chaoslab_seed"),
        )

    return run


# -- scenario YAML files as tests --------------------------------------------------------


def _is_scenario(path: Path) -> bool:
    """A cheap look: a YAML mapping with ``name`` and an ``expectations`` list."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and "name" in data and isinstance(data.get("expectations"), list)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    config = parent.config
    patterns = [str(p) for p in config.getini("chaoslab_scenario_files")]
    named = any(fnmatch.fnmatch(file_path.name, pattern) for pattern in patterns)
    enabled = config.getoption("chaoslab_scenarios")
    if enabled is None:
        enabled = bool(config.getini("chaoslab_scenarios"))
    if named or (enabled and _is_scenario(file_path)):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


def _repr_known(excinfo: ExceptionInfo[BaseException]) -> str | None:
    """The message alone for the errors that explain themselves (no traceback)."""
    from assertions.exceptions import AssertionsError

    if isinstance(excinfo.value, ScenarioError | AssertionsError):
        return str(excinfo.value)
    return None


class ScenarioFile(pytest.File):
    """A scenario YAML file: validated by the loader, run once on the first item that runs."""

    scenario: Scenario | None = None
    _run: Journal | None = None
    _control_run: Journal | None = None
    _failure: BaseException | None = None

    @property
    def mode(self) -> Mode:
        return "control" if self.config.getoption("chaoslab_control") else "fault"

    def collect(self) -> Iterator[ExpectationItem]:
        from scenarios.loader import load

        # ScenarioInvalid: every problem with its file (as the user ran pytest) and line.
        scenario = load(self._shown_path())
        self.scenario = scenario
        for exp in scenario.expectations:
            item = ExpectationItem.from_parent(self, name=exp.id, expectation=exp)
            item.add_marker(getattr(pytest.mark, MARKER)(scenario.name))
            yield item

    def _shown_path(self) -> Path:
        """The file relative to where pytest was invoked (as ``chaoslab validate`` shows it)."""
        try:
            return self.path.relative_to(self.config.invocation_params.dir)
        except ValueError:
            return self.path

    def repr_failure(
        self, excinfo: ExceptionInfo[BaseException], style: str | None = None
    ) -> str | TerminalRepr:
        return _repr_known(excinfo) or super().repr_failure(excinfo)

    def run(self) -> Journal:
        """The scenario's journal, running it the first time it is asked for."""
        if self._failure is not None:
            raise ScenarioRunError(f"the run of {self.path.name} failed: {self._failure}")
        if self._run is None:
            from scenarios.loader import load

            scenario = self.scenario if self.scenario is not None else load(self.path)
            out = self.config.getoption("chaoslab_out")
            base = Path(out) if out else Path(tempfile.mkdtemp(prefix="chaoslab-out-"))
            try:
                self._run = run_scenario_once(
                    scenario,
                    base / self.path.stem,
                    state_dir=run_state_dir(self.config),
                    mode=self.mode,
                    seed=self.config.getoption("chaoslab_seed"),
                    source=self.path,
                )
            except BaseException as exc:
                self._failure = exc
                raise
        return self._run

    def control_run(self, report: ControlReport) -> Journal | None:
        """The control run's own journal (for what it observed), if it can be read."""
        from pydantic import ValidationError

        from scenarios.journal import Journal

        if self._control_run is None:
            try:
                self._control_run = Journal.model_validate_json(Path(report.journal).read_text())
            except (OSError, ValidationError):
                return None
        return self._control_run


class ExpectationItem(pytest.Item):
    """One expectation of a collected scenario: passes, fails or errors with its verdict."""

    def __init__(self, *, expectation: Expectation, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.expectation = expectation

    @property
    def scenario_file(self) -> ScenarioFile:
        parent = self.parent
        if not isinstance(parent, ScenarioFile):
            raise ScenarioRunError(f"{self.nodeid}: not collected from a scenario file")
        return parent

    def runtest(self) -> None:
        from assertions.exceptions import ExpectationError, ExpectationFailed

        journal = self.scenario_file.run()
        self.user_properties.extend([("run_id", journal.run_id), ("seed", journal.seed)])
        verdict = next((v for v in journal.expectations if v.id == self.name), None)
        if verdict is None:
            raise ScenarioRunError(
                f"run {journal.run_id} of {journal.scenario} ended {journal.status} without a "
                f"verdict for {self.name}" + (f": {journal.error}" if journal.error else "")
            )
        self.user_properties.extend(
            [
                ("kind", verdict.kind),
                ("status", verdict.status),
                ("time_to_detect_s", verdict.time_to_detect_s),
                ("observed", verdict.observed),
            ]
        )
        if self.scenario_file.mode == "control" and verdict.status != "error":
            self._judge(journal)
            return
        if verdict.status == "passed":
            return
        if verdict.status == "failed":
            raise ExpectationFailed(verdict.message)
        reason = verdict.message or journal.error or "not settled"
        raise ExpectationError(f"{self.name}: {verdict.status}: {reason}")

    def _judge(self, journal: Journal) -> None:
        """``--chaoslab-control``: pass only a proven detection or an absent that held."""
        from assertions.exceptions import ExpectationError, ExpectationFailed

        report = journal.control
        judgement = (
            None
            if report is None
            else next((j for j in report.judgements if j.id == self.name), None)
        )
        if report is None or judgement is None:
            raise ScenarioRunError(
                f"run {journal.run_id} of {journal.scenario} ended {journal.status} without a "
                f"control judgement for {self.name}"
                + (f": {journal.error}" if journal.error else "")
            )
        self.user_properties.extend(
            [("judgement", judgement.judgement), ("control_run_id", report.run_id)]
        )
        if judgement.good:
            return
        message = self._judgement_message(journal, report, judgement)
        if judgement.judgement == "error":
            raise ExpectationError(message)
        raise ExpectationFailed(message)

    def _judgement_message(
        self, journal: Journal, report: ControlReport, judgement: ExpectationJudgement
    ) -> str:
        from scenarios.journal import JUDGEMENTS

        control = self.scenario_file.control_run(report)
        runs: list[tuple[str, str, Journal | None, str]] = [
            ("with the fault", journal.run_id, journal, judgement.fault_status),
            ("control (no fault)", report.run_id, control, judgement.control_status),
        ]
        lines = [f"{self.name}: {judgement.judgement}: {JUDGEMENTS[judgement.judgement]}"]
        for label, run_id, run, status in runs:
            found = (
                None
                if run is None
                else next((v for v in run.expectations if v.id == self.name), None)
            )
            observed = found.observed if found is not None and found.observed else "(no record)"
            lines.append(f"  {label}, run {run_id}: {status}; observed: {observed}")
        return "\n".join(lines)

    def repr_failure(
        self,
        excinfo: ExceptionInfo[BaseException],
        style: str | None = None,
    ) -> str | TerminalRepr:
        return _repr_known(excinfo) or super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.name} ({self.expectation.kind})"


__all__ = [
    "MARKER",
    "ExpectationItem",
    "RunScenario",
    "ScenarioFile",
    "ScenarioRunError",
    "lab",
    "run_scenario",
    "run_scenario_once",
]
