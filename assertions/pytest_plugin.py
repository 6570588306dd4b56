"""chaoslab's pytest plugin (``pytest11`` entry point ``chaoslab``).

Options (group ``chaoslab``):

* ``--chaoslab-stack=local|compose|STATE_DIR`` (ini ``chaoslab_stack``, default
  ``local``): ``local`` starts a local stack for the session the first time a
  test asks for ``lab``; a directory holding ``stack.json`` (``chaoslab up``,
  ``--chaoslab-keep-stack``, or a stack a test started) reuses that running
  stack and never stops it; ``compose`` needs Docker and says so.
* ``--chaoslab-keep-stack``: leave the stack the session started running, in
  ``.chaoslab/pytest`` under the rootdir (stop it with
  ``chaoslab --state-dir .chaoslab/pytest down``).
* ``--chaoslab-scenarios`` (ini ``chaoslab_scenarios``): collect scenario YAML
  files (a mapping with ``name`` and ``expectations``) as tests. Files named
  like ``chaoslab_scenario_files`` (default ``chaoslab_*.yaml chaoslab_*.yml``)
  are always collected. Each file runs its scenario once; each expectation is
  one test item named after its id, and JUnit gets its ``time_to_detect_s``.
* ``--chaoslab-out=DIR``: where collected scenario runs write their journals.

Fixtures: ``lab`` (session: a :class:`~assertions.lab.Lab`) and
``run_scenario`` (a callable running a named scenario or a file through the
runner). Marker: ``chaoslab_scenario(name)`` binds a test to a scenario, the
default of ``run_scenario()``.

``assertions`` never imports ``scenarios`` (signals must not depend on the
thing producing them): the runner is imported lazily, inside the functions
that run a scenario, and only then; the stack driver likewise, so loading this
plugin starts nothing and imports neither. The engine and the clients are
imported when a fixture or a collected scenario first needs them too: pytest
loads this plugin in every run of the repository, and a half-edited
``assertions`` module must not stop the other packages' tests from running.
"""

from __future__ import annotations

import fnmatch
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest
import yaml
from _pytest._code.code import ExceptionInfo, TerminalRepr

if TYPE_CHECKING:
    from assertions.engine import Verdict
    from assertions.expectations import Expectation
    from assertions.lab import Lab

MARKER = "chaoslab_scenario"
KEPT_STATE_DIR = Path(".chaoslab") / "pytest"
DEFAULT_SCENARIO_FILES = ("chaoslab_*.yaml", "chaoslab_*.yml")


class ScenarioRun(Protocol):
    """What a scenario run reports (the runner's journal, read-only)."""

    @property
    def scenario(self) -> str: ...
    @property
    def run_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def error(self) -> str | None: ...
    @property
    def expectations(self) -> Sequence[Verdict]: ...


class RunScenario(Protocol):
    """The ``run_scenario`` fixture: run a catalog name or a scenario file, return its journal."""

    def __call__(
        self, name_or_path: str | Path | None = None, *, no_fault: bool = False
    ) -> ScenarioRun: ...


class ScenarioRunError(Exception):
    """A scenario could not be run: no runner, an invalid file, or the run itself errored."""


# -- options -----------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chaoslab", "chaoslab: chaos scenarios and signal expectations")
    group.addoption(
        "--chaoslab-stack",
        default=None,
        metavar="local|compose|STATE_DIR",
        help="stack for the lab fixture: start a local one (default), compose, or the "
        "state dir (with stack.json) of a stack that is already running",
    )
    group.addoption(
        "--chaoslab-keep-stack",
        action="store_true",
        default=False,
        help=f"leave the stack the session started running (state in {KEPT_STATE_DIR})",
    )
    group.addoption(
        "--chaoslab-scenarios",
        action="store_true",
        default=None,
        help="collect scenario YAML files as tests, one item per expectation",
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
    kind: str  # "local" | "compose" | "state"
    state_dir: Path | None = None


def stack_choice(config: pytest.Config) -> StackChoice:
    """The ``--chaoslab-stack`` value, checked: local, compose or an existing state dir."""
    raw = config.getoption("chaoslab_stack") or str(config.getini("chaoslab_stack"))
    if raw in ("local", "compose"):
        return StackChoice(raw)
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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(name): the test is bound to a chaoslab scenario (catalog name or YAML "
        "path); run_scenario() without a name runs it",
    )
    stack_choice(config)  # a wrong value is a usage error before anything runs


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
    if choice.kind == "state":
        assert choice.state_dir is not None
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
        state_dir = Path(tempfile.mkdtemp(prefix="chaoslab-pytest-"))
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


def run_scenario_once(
    name_or_path: str | Path, out_dir: Path, *, no_fault: bool = False
) -> ScenarioRun:
    """Run one scenario with the runner (its own stack, in a throwaway state dir)."""
    try:
        # Lazy on purpose: assertions must not import scenarios at module level
        # (scenarios depends on assertions, never the other way round); only a
        # test that runs a scenario needs the runner.
        from scenarios.exceptions import ScenarioError
        from scenarios.loader import load, resolve
        from scenarios.runner import Runner
    except ImportError as exc:
        raise ScenarioRunError(
            f"running a scenario needs the chaoslab runner (scenarios.runner), which could "
            f"not be imported: {exc}"
        ) from exc
    try:
        scenario = load(resolve(str(name_or_path)))
    except ScenarioError as exc:
        raise ScenarioRunError(str(exc)) from exc
    state_dir = Path(tempfile.mkdtemp(prefix="chaoslab-run-"))
    try:
        runner = Runner(scenario, out_dir=out_dir, state_dir=state_dir, no_fault=no_fault)
        return runner.run()
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)


def _bound_scenario(node: pytest.Item) -> str:
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
    assert isinstance(node, pytest.Item)

    def run(name_or_path: str | Path | None = None, *, no_fault: bool = False) -> ScenarioRun:
        name = name_or_path if name_or_path is not None else _bound_scenario(node)
        out = tmp_path / ("control" if no_fault else "run") / Path(str(name)).stem
        return run_scenario_once(name, out, no_fault=no_fault)

    return run


# -- scenario YAML files as tests --------------------------------------------------------


class ScenarioFileInvalid(Exception):
    """A collected scenario file whose expectations cannot be read (a collection error)."""


def _read_mapping(path: Path) -> dict[object, object] | None:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) else None


def _is_scenario(path: Path) -> bool:
    data = _read_mapping(path)
    return data is not None and "name" in data and isinstance(data.get("expectations"), list)


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


class ScenarioFile(pytest.File):
    """A scenario YAML file: run once, on the first of its items that runs."""

    _run: ScenarioRun | None = None
    _failure: BaseException | None = None

    def scenario_name(self) -> str:
        data = _read_mapping(self.path) or {}
        return str(data.get("name") or self.path.stem)

    def collect(self) -> Iterator[ExpectationItem]:
        from pydantic import ValidationError

        from assertions.lab import EXPECTATION

        data = _read_mapping(self.path)
        expectations = data.get("expectations") if data is not None else None
        if data is None or not isinstance(expectations, list):
            raise ScenarioFileInvalid(
                f"{self.path}: not a chaoslab scenario (a YAML mapping with an `expectations` list)"
            )
        name = str(data.get("name") or self.path.stem)
        seen: set[str] = set()
        raw: object
        for index, raw in enumerate(expectations):
            try:
                exp = EXPECTATION.validate_python(raw)
            except ValidationError as exc:
                problems = "\n".join(
                    f"  {'.'.join(str(part) for part in error['loc'][1:]) or 'kind'}: "
                    f"{error['msg']}"
                    for error in exc.errors()
                )
                ident = raw.get("id") if isinstance(raw, dict) else None
                named = f" ({ident})" if ident else ""
                raise ScenarioFileInvalid(
                    f"{self.path}: expectations[{index}]{named} is invalid:\n{problems}"
                ) from exc
            if exp.id in seen:
                raise ScenarioFileInvalid(f"{self.path}: expectation id {exp.id!r} is used twice")
            seen.add(exp.id)
            item = ExpectationItem.from_parent(self, name=exp.id, expectation=exp)
            item.add_marker(getattr(pytest.mark, MARKER)(name))
            yield item

    def repr_failure(
        self, excinfo: ExceptionInfo[BaseException], style: str | None = None
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, ScenarioFileInvalid):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def run(self) -> ScenarioRun:
        """The scenario's journal, running it the first time it is asked for."""
        if self._failure is not None:
            raise ScenarioRunError(f"the run of {self.path.name} failed: {self._failure}")
        if self._run is None:
            out = self.config.getoption("chaoslab_out")
            base = Path(out) if out else Path(tempfile.mkdtemp(prefix="chaoslab-out-"))
            try:
                self._run = run_scenario_once(self.path, base / self.path.stem)
            except BaseException as exc:
                self._failure = exc
                raise
        return self._run


class ExpectationItem(pytest.Item):
    """One expectation of a collected scenario: passes, fails or errors with its verdict."""

    def __init__(self, *, expectation: Expectation, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.expectation = expectation

    def runtest(self) -> None:
        from assertions.exceptions import ExpectationError, ExpectationFailed

        parent = self.parent
        assert isinstance(parent, ScenarioFile)
        journal = parent.run()
        self.user_properties.append(("run_id", journal.run_id))
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
        if verdict.status == "passed":
            return
        if verdict.status == "failed":
            raise ExpectationFailed(verdict.message)
        reason = verdict.message or journal.error or "not settled"
        raise ExpectationError(f"{self.name}: {verdict.status}: {reason}")

    def repr_failure(
        self,
        excinfo: ExceptionInfo[BaseException],
        style: str | None = None,
    ) -> str | TerminalRepr:
        from assertions.exceptions import AssertionsError

        if isinstance(excinfo.value, AssertionsError | ScenarioRunError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.name} ({self.expectation.kind})"


__all__ = [
    "MARKER",
    "ExpectationItem",
    "RunScenario",
    "ScenarioFile",
    "ScenarioRun",
    "ScenarioRunError",
    "lab",
    "run_scenario",
    "run_scenario_once",
]
