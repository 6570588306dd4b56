"""A run directory as the report reads it: journal, evidence, request log, control run.

    <run_dir>/journal.json        required
    <run_dir>/evidence.json       optional (older runs have none)
    <run_dir>/load/requests-*.csv optional, the per-request log
    <run_dir>/load/locust.html    optional, Locust's own report (linked, not inlined)
    <run_dir>/control/            optional, the ``--control`` run (same layout)
    <run_dir>/../drill-journal.json  optional: the run was a game-day drill (``run_dir`` is
                                  the drill's ``run/``)

Only ``journal.json`` is required; everything else may be missing, and the
page says so in its place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ValidationError

from scenarios.drill.model import DrillJournal
from scenarios.evidence import Evidence, load_evidence
from scenarios.exceptions import ReportError, ScenarioError
from scenarios.journal import Journal
from scenarios.load import read_request_log
from scenarios.loader import catalog, load
from scenarios.loadmodel import RequestRecord
from scenarios.model import Scenario

JOURNAL_FILE = "journal.json"
LOAD_DIR = "load"
LOCUST_HTML = "locust.html"
CONTROL_DIR = "control"
DRILL_JOURNAL = "drill-journal.json"


class _ScenarioText(BaseModel):
    """``title`` and ``story`` when a journal carries them (newer journals may)."""

    title: str = ""
    story: str = ""


def read_journal(path: Path) -> Journal:
    """``journal.json`` at ``path``; :class:`ReportError` when missing or malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot read the journal {path}: {exc.strerror}") from exc
    try:
        return Journal.model_validate_json(text)
    except ValidationError as exc:
        raise ReportError(f"{path} is not a chaoslab journal: {exc}") from exc


def catalog_scenario(name: str) -> Scenario | None:
    """The catalog scenario called ``name``, if there is one and it still loads."""
    path = catalog().get(name)
    if path is None:
        return None
    try:
        return load(path)
    except ScenarioError:  # a broken catalog file only costs the page its title
        return None


@dataclass(frozen=True)
class RunDir:
    """Everything recorded for one run (and its control run, when there was one)."""

    path: Path
    journal: Journal
    evidence: Evidence | None
    requests: list[RequestRecord]
    scenario: Scenario | None
    title: str
    story: str
    control: RunDir | None = None
    drill: DrillJournal | None = None

    @property
    def locust_html(self) -> Path | None:
        path = self.path / LOAD_DIR / LOCUST_HTML
        return path if path.is_file() else None


def read_run_dir(run_dir: Path, *, with_control: bool = True) -> RunDir:
    """Read ``run_dir`` (or the directory of a ``journal.json`` given directly)."""
    if run_dir.is_file() and run_dir.name == JOURNAL_FILE:
        run_dir = run_dir.parent
    journal_path = run_dir / JOURNAL_FILE
    journal = read_journal(journal_path)
    text = _ScenarioText.model_validate_json(journal_path.read_text(encoding="utf-8"))
    scenario = catalog_scenario(journal.scenario)
    try:
        evidence = load_evidence(run_dir)
    except ValidationError as exc:
        raise ReportError(f"{run_dir / 'evidence.json'} does not parse: {exc}") from exc
    load_dir = run_dir / LOAD_DIR
    requests = read_request_log(load_dir) if load_dir.is_dir() else []
    control: RunDir | None = None
    control_dir = run_dir / CONTROL_DIR
    if with_control and (control_dir / JOURNAL_FILE).is_file():
        control = read_run_dir(control_dir, with_control=False)
    drill = _drill_of(run_dir)
    if drill is not None:
        return RunDir(
            path=run_dir,
            journal=journal,
            evidence=evidence,
            requests=requests,
            scenario=catalog_scenario(drill.scenario),
            title=f"game-day drill {drill.drill_id}: {drill.scenario} — {drill.title}",
            story=drill.score.summary,
            drill=drill,
        )
    return RunDir(
        path=run_dir,
        journal=journal,
        evidence=evidence,
        requests=requests,
        scenario=scenario,
        title=text.title or (scenario.title if scenario else ""),
        story=text.story or (scenario.story if scenario else ""),
        control=control,
    )


__all__ = [
    "CONTROL_DIR",
    "JOURNAL_FILE",
    "RunDir",
    "catalog_scenario",
    "read_journal",
    "read_run_dir",
]


def _drill_of(run_dir: Path) -> DrillJournal | None:
    """The drill journal beside a drill's ``run/`` directory, if this run was a drill."""
    path = run_dir.parent / DRILL_JOURNAL
    if not path.is_file():
        return None
    try:
        return DrillJournal.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        raise ReportError(f"{path} is not a drill journal: {exc}") from exc
