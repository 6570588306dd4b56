"""Score a drill: each declaration against the hidden faults, the team against the signals.

All delays count from the moment the first hidden fault really took effect
(as the background process saw it, not as planned). A declaration names the
right component when its ``--component`` (or its text) names the component a
fault broke, and the right kind when its ``--kind`` (or its text, by the words
of :data:`~scenarios.drill.plan.DIAGNOSES`) names that fault's kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from assertions.engine import Verdict
from scenarios.drill.model import (
    Automated,
    Chosen,
    Declaration,
    DeclarationVerdict,
    DrillJournal,
    DrillState,
    FaultPlan,
    Hint,
    JudgedDeclaration,
    PillarScore,
    Score,
    Secret,
)
from scenarios.drill.plan import DIAGNOSES, mentions


def _seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return round((later - earlier).total_seconds(), 1)


def judge(
    declaration: Declaration,
    faults: Sequence[FaultPlan],
    fault_start: datetime | None,
    hints: Sequence[Hint],
    components: Sequence[str] = (),
) -> JudgedDeclaration:
    """How early ``declaration`` came and whether it named the right component and kind."""
    text = declaration.text
    component_ok = any(
        declaration.component == f.component or mentions(text, [f.component]) for f in faults
    )
    kind_ok = any(
        declaration.kind == f.diagnosis or mentions(text, DIAGNOSES[f.diagnosis].words)
        for f in faults
    )
    before = fault_start is None or declaration.at < fault_start
    # A diagnosis names a component (flag or text) or a kind (flag); anything else is a sighting.
    named = (
        declaration.component is not None
        or declaration.kind is not None
        or mentions(text, components)
    )
    verdict: DeclarationVerdict = (
        "before the fault"
        if before
        else "right"
        if component_ok and kind_ok
        else "partly"
        if component_ok or kind_ok
        else ("wrong" if named else "seen")
    )
    return JudgedDeclaration(
        **declaration.model_dump(),
        delay_s=_seconds(declaration.at, fault_start),
        before_fault=before,
        component_correct=component_ok,
        kind_correct=kind_ok,
        correct=component_ok and kind_ok and not before,
        verdict=verdict,
        hints_before=sum(1 for h in hints if h.at <= declaration.at),
    )


def automated(verdicts: Sequence[Verdict], fault_start: datetime | None) -> list[Automated]:
    """Each expectation, its time-to-detect counted from the first fault's start."""
    return [
        Automated(
            id=v.id,
            signal=v.kind,
            description=v.description,
            status=v.status,
            absent=bool(v.absent),
            time_to_detect_s=(
                _seconds(v.detected_at, fault_start)
                if v.status == "passed" and not v.absent
                else None
            ),
            detected_at=v.detected_at if v.status == "passed" and not v.absent else None,
            message=v.message.splitlines()[0] if v.message else "",
        )
        for v in verdicts
    ]


def _fastest(seq: Sequence[Automated]) -> Automated | None:
    timed = [a for a in seq if a.time_to_detect_s is not None]
    return min(timed, key=lambda a: a.time_to_detect_s or 0.0, default=None)


def _ahead(automated_s: float | None, human_s: float | None) -> float | None:
    if automated_s is None or human_s is None:
        return None
    return round(automated_s - human_s, 1)


def score(
    declarations: Sequence[JudgedDeclaration], signals: Sequence[Automated], hints: int
) -> Score:
    """Human time-to-detect and time-to-diagnosis against the fastest signal, per pillar."""
    after = [d for d in declarations if not d.before_fault and d.delay_s is not None]
    first = after[0] if after else None
    right = next((d for d in after if d.correct), None)
    fastest = _fastest(signals)
    pillars: list[PillarScore] = []
    for signal in dict.fromkeys(
        [*(a.signal for a in signals if not a.absent), *(d.signal for d in after)]
    ):
        if signal is None:
            continue
        auto = _fastest([a for a in signals if a.signal == signal])
        human = next((d for d in after if d.signal == signal), None)
        pillars.append(
            PillarScore(
                signal=signal,
                automated_s=None if auto is None else auto.time_to_detect_s,
                automated_by=None if auto is None else auto.id,
                human_s=None if human is None else human.delay_s,
                human_by=None if human is None else human.by,
                humans_ahead_s=_ahead(
                    None if auto is None else auto.time_to_detect_s,
                    None if human is None else human.delay_s,
                ),
            )
        )
    result = Score(
        human_time_to_detect_s=None if first is None else first.delay_s,
        human_time_to_diagnosis_s=None if right is None else right.delay_s,
        diagnosed_by=None if right is None else right.by,
        fastest_automated_s=None if fastest is None else fastest.time_to_detect_s,
        fastest_automated=None if fastest is None else f"{fastest.signal} {fastest.id}",
        humans_ahead_s=_ahead(
            None if fastest is None else fastest.time_to_detect_s,
            None if first is None else first.delay_s,
        ),
        hints_used=hints,
        correct_without_hints=right is not None and right.hints_before == 0,
        pillars=pillars,
    )
    result.summary = summary(result)
    return result


def summary(result: Score) -> str:
    """One sentence a facilitator can read out."""
    auto, human = result.fastest_automated_s, result.human_time_to_detect_s
    parts: list[str] = []
    if human is None:
        parts.append("the team declared nothing after the fault started")
    elif auto is None:
        parts.append(f"the team saw it at {human:.0f} s; no automated signal caught it")
    elif human < auto:
        parts.append(f"the team saw it {auto - human:.0f} s before the first signal")
    else:
        parts.append(
            f"the first signal ({result.fastest_automated}) beat the team by {human - auto:.0f} s"
        )
    if result.human_time_to_diagnosis_s is not None:
        hints = f" after {result.hints_used} hint(s)" if not result.correct_without_hints else ""
        parts.append(
            f"diagnosed correctly at {result.human_time_to_diagnosis_s:.0f} s "
            f"by {result.diagnosed_by}{hints}"
        )
    else:
        parts.append("never diagnosed correctly")
    return "; ".join(parts)


def build(
    state: DrillState,
    secret: Secret,
    *,
    status: str,
    ended_at: datetime,
    verdicts: Sequence[Verdict],
    rolled_back: Sequence[str] = (),
    recovered: bool = False,
    error: str | None = None,
) -> DrillJournal:
    """The drill journal from the public state, the secret and the final verdicts."""
    starts = [s.started_at for s in secret.seen if s.started_at is not None]
    fault_start = min(starts, default=None)
    judged = [
        judge(d, secret.faults, fault_start, state.hints, state.components)
        for d in state.declarations
    ]
    signals = automated(verdicts, fault_start)
    scored = status == "scored"
    return DrillJournal(
        drill_id=state.id,
        facilitator=state.facilitator,
        status="scored" if scored else ("aborted" if status == "aborted" else "error"),
        error=error,
        recovered=recovered,
        **secret.model_dump(include=set(Chosen.model_fields)),
        started_at=state.started_at,
        ended_at=ended_at,
        duration_s=_seconds(ended_at, state.started_at),
        fault_started_at=fault_start,
        seen=secret.seen,
        declarations=judged,
        notes=state.notes,
        hints=state.hints,
        automated=signals,
        uncaught=[
            f"{a.signal} {a.id}: {a.description}"
            for a in signals
            if not a.absent and a.status != "passed"
        ],
        score=score(judged, signals, len(state.hints)) if scored else Score(),
        run_dir=secret.run_dir,
        rolled_back=list(rolled_back),
    )
