"""What a game-day drill records: the public state, the facilitator's secret, the journal.

Three files, three readers:

* :class:`DrillState` (``drill.json``): what every responder may read — when
  the drill started, who declared what, the scribe's notes, how many hints were
  given. Never the scenario, the fault, or when it starts.
* :class:`Secret` (``facilitator/secret.json``): which scenario, when its
  faults start, and what the background process saw so far. Only
  ``drill reveal --facilitator``, ``drill hint`` and ``drill end`` read it.
* :class:`DrillJournal` (written by ``drill end``): everything, scored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from assertions.engine import Verdict

Phase = Literal["starting", "running", "ending", "finished", "failed", "aborted", "ended"]
#: Phases in which the drill's background process is (or should be) at work.
LIVE_PHASES: tuple[Phase, ...] = ("starting", "running", "ending")
Signal = Literal["metric", "alert", "trace", "sentry", "log", "health"]
DeclarationVerdict = Literal["right", "partly", "wrong", "seen", "before the fault"]
SIGNALS: tuple[Signal, ...] = ("metric", "alert", "trace", "sentry", "log", "health")


class Declaration(BaseModel):
    """A responder says what they see."""

    at: datetime
    by: str
    text: str
    signal: Signal | None = None
    component: str | None = None
    kind: str | None = None


class Note(BaseModel):
    """A line of the scribe's timeline."""

    at: datetime
    by: str | None = None
    text: str


class Hint(BaseModel):
    at: datetime
    level: int = Field(description="1 the affected component, 2 the fault kind")
    text: str


class Worker(BaseModel):
    """The drill's background process (load, faults, automated signals)."""

    pid: int
    start_time: int | None = None
    log: str


class DrillState(BaseModel):
    """``drill.json``: everything here may be shown to the responders."""

    id: str
    facilitator: str
    phase: Phase = "starting"
    created_at: datetime
    started_at: datetime | None = Field(default=None, description="when the load started")
    end_requested_at: datetime | None = None
    ended_at: datetime | None = None
    components: list[str] = Field(
        default_factory=list, description="what a responder can name in --component"
    )
    worker: Worker | None = None
    declarations: list[Declaration] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)
    hints: list[Hint] = Field(default_factory=list)
    problem: str | None = Field(
        default=None, description="why the drill's background process stopped early (no detail)"
    )


class FaultPlan(BaseModel):
    """One hidden fault: what, where, and when it starts (seconds after the load)."""

    id: str
    kind: str
    diagnosis: str = Field(description="the fault kind a responder should name (DIAGNOSES)")
    component: str = Field(description="the component a responder should name")
    at: float
    detail: str = ""


class FaultSeen(BaseModel):
    """A fault as the background process applied it."""

    id: str
    started_at: datetime | None = None
    ended_at: datetime | None = None
    detail: str = ""


class Chosen(BaseModel):
    """Which scenario the drill runs, how it was chosen, and where its faults fall."""

    scenario: str
    title: str
    source: str
    picked: bool
    tags: list[str] = Field(default_factory=list)
    seed: int
    at_range: tuple[float, float]
    offset_s: float
    faults: list[FaultPlan]

    def replay(self) -> str:
        """The ``drill start`` that draws the same scenario and offset again."""
        chosen = f"--pick --from {' '.join(self.tags)}" if self.tags else "--pick"
        lo, hi = self.at_range
        return (
            f"chaoslab drill start {chosen if self.picked else self.source} --seed {self.seed} "
            f"--at {lo:g}s-{hi:g}s --facilitator NAME"
        )


class Secret(Chosen):
    """``facilitator/secret.json``: the facilitator's eyes only."""

    max_duration_s: float
    run_id: str | None = None
    run_dir: str
    log_offset: int = Field(default=0, description="size of the target's log at drill start")
    load_started_at: datetime | None = None
    seen: list[FaultSeen] = Field(default_factory=list)
    verdicts: list[Verdict] = Field(default_factory=list)
    error: str | None = None


class JudgedDeclaration(Declaration):
    """A declaration with how early it came and whether it was right."""

    delay_s: float | None = Field(description="seconds after the first fault started")
    before_fault: bool = False
    component_correct: bool
    kind_correct: bool
    correct: bool
    verdict: DeclarationVerdict = Field(
        description="right: component and kind; partly: one of them; wrong: named others; "
        "seen: a sighting naming neither (no --component, no --kind)"
    )
    hints_before: int = 0


class Automated(BaseModel):
    """One expectation of the scenario over the drill window."""

    id: str
    signal: str
    description: str
    status: str
    absent: bool = False
    time_to_detect_s: float | None = None
    detected_at: datetime | None = None
    message: str = ""


class PillarScore(BaseModel):
    """Per signal: the fastest automated detection against the first human to cite it."""

    signal: str
    automated_s: float | None = None
    automated_by: str | None = None
    human_s: float | None = None
    human_by: str | None = None
    humans_ahead_s: float | None = Field(
        default=None, description="automated time minus human time: > 0 the team was faster"
    )


class Score(BaseModel):
    human_time_to_detect_s: float | None = None
    human_time_to_diagnosis_s: float | None = None
    diagnosed_by: str | None = None
    fastest_automated_s: float | None = None
    fastest_automated: str | None = None
    humans_ahead_s: float | None = None
    hints_used: int = 0
    correct_without_hints: bool = False
    pillars: list[PillarScore] = Field(default_factory=list)
    summary: str = ""


class DrillJournal(Chosen):
    """``drill-journal.json``: the whole drill, revealed and scored."""

    drill_id: str
    facilitator: str
    status: Literal["scored", "aborted", "error"]
    error: str | None = None
    recovered: bool = Field(
        default=False, description="the background process had died; drill end cleaned up"
    )
    started_at: datetime | None
    ended_at: datetime
    duration_s: float | None = None
    fault_started_at: datetime | None = None
    seen: list[FaultSeen] = Field(default_factory=list)
    declarations: list[JudgedDeclaration] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)
    hints: list[Hint] = Field(default_factory=list)
    automated: list[Automated] = Field(default_factory=list)
    uncaught: list[str] = Field(
        default_factory=list, description="expectations no signal met during the drill"
    )
    score: Score = Field(default_factory=Score)
    run_dir: str
    rolled_back: list[str] = Field(default_factory=list)
