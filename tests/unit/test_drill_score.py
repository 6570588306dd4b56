"""Scoring a drill: declarations judged against the hidden fault, humans against signals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from assertions.engine import Verdict
from scenarios.drill.model import Declaration, DrillState, FaultPlan, FaultSeen, Hint, Secret
from scenarios.drill.review import review_markdown
from scenarios.drill.score import build

T0 = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)
FAULT_AT = T0 + timedelta(seconds=60)


def at(seconds: float) -> datetime:
    return FAULT_AT + timedelta(seconds=seconds)


def _secret() -> Secret:
    return Secret(
        scenario="slow-dependency",
        title="Slow downstream classifier",
        source="/x/slow-dependency.yaml",
        picked=True,
        tags=["dependency"],
        seed=7,
        at_range=(30.0, 90.0),
        offset_s=60.0,
        max_duration_s=1800.0,
        faults=[
            FaultPlan(id="lat", kind="toxic", diagnosis="latency", component="downstream", at=60)
        ],
        run_dir="/x/run",
        seen=[FaultSeen(id="lat", started_at=FAULT_AT)],
    )


def _verdict(id_: str, kind: str, seconds: float | None, absent: bool = False) -> Verdict:
    passed = seconds is not None or absent
    return Verdict(
        id=id_,
        kind=kind,
        description=id_,
        status="passed" if passed else "failed",
        passed=passed,
        absent=absent,
        detected_at=None if seconds is None else at(seconds),
        time_to_detect_s=seconds,
    )


def _state(declarations: list[Declaration], hints: list[Hint] | None = None) -> DrillState:
    return DrillState(
        id="d1",
        facilitator="ada",
        created_at=T0,
        started_at=T0,
        components=["target", "postgres", "downstream"],
        declarations=declarations,
        hints=hints or [],
    )


VERDICTS = [
    _verdict("p95", "metric", 4.0),
    _verdict("spans", "trace", 2.5),
    _verdict("alert", "alert", 40.0),
    _verdict("sentry-quiet", "sentry", None, absent=True),
    _verdict("logs", "log", None),
]


def test_declarations_are_timed_from_the_fault_and_judged() -> None:
    state = _state(
        [
            Declaration(at=at(-5), by="bo", text="something is off", signal="metric"),
            Declaration(at=at(20), by="bo", text="postgres locked", component="postgres"),
            Declaration(at=at(35), by="cy", text="downstream is slow", signal="trace"),
        ]
    )
    journal = build(state, _secret(), status="scored", ended_at=at(100), verdicts=VERDICTS)
    early, wrong, right = journal.declarations
    assert early.before_fault
    assert early.delay_s == -5.0
    assert not early.correct
    assert wrong.delay_s == 20.0
    assert (wrong.component_correct, wrong.kind_correct, wrong.correct) == (False, False, False)
    assert (right.component_correct, right.kind_correct, right.correct) == (True, True, True)
    assert [d.verdict for d in journal.declarations] == ["before the fault", "wrong", "right"]
    score = journal.score
    assert score.human_time_to_detect_s == 20.0
    assert score.human_time_to_diagnosis_s == 35.0
    assert score.diagnosed_by == "cy"
    assert score.fastest_automated_s == 2.5
    assert score.fastest_automated == "trace spans"
    assert score.humans_ahead_s == -17.5
    assert score.correct_without_hints
    pillars = {p.signal: p for p in score.pillars}
    assert set(pillars) == {"metric", "trace", "alert", "log"}, "absent-only sentry is no pillar"
    assert pillars["trace"].human_s == 35.0
    assert pillars["trace"].humans_ahead_s == -32.5
    assert pillars["alert"].automated_s == 40.0
    assert pillars["alert"].human_s is None
    assert journal.uncaught == ["log logs: logs"]
    assert "beat the team by 18 s" in score.summary
    assert journal.replay() == (
        "chaoslab drill start --pick --from dependency --seed 7 --at 30s-90s --facilitator NAME"
    )


def test_flags_name_the_answer_and_hints_are_counted_before_it() -> None:
    hints = [Hint(at=at(10), level=1, text="look at downstream")]
    state = _state(
        [
            Declaration(at=at(12), by="bo", text="it", component="downstream", kind="latency"),
        ],
        hints,
    )
    journal = build(state, _secret(), status="scored", ended_at=at(100), verdicts=VERDICTS)
    (declared,) = journal.declarations
    assert declared.correct
    assert declared.hints_before == 1
    assert not journal.score.correct_without_hints
    assert journal.score.hints_used == 1
    assert "after 1 hint(s)" in journal.score.summary


def test_a_team_faster_than_every_signal_is_said_so() -> None:
    state = _state([Declaration(at=at(1), by="bo", text="downstream latency", signal="trace")])
    journal = build(state, _secret(), status="scored", ended_at=at(100), verdicts=VERDICTS)
    assert journal.score.humans_ahead_s == 1.5
    assert journal.declarations[0].verdict == "right"
    sighting = _state([Declaration(at=at(3), by="bo", text="p95 is up", signal="metric")])
    partly = _state([Declaration(at=at(3), by="bo", text="it", component="downstream")])
    for declared, verdict in ((sighting, "seen"), (partly, "partly")):
        judged = build(declared, _secret(), status="scored", ended_at=at(9), verdicts=VERDICTS)
        assert judged.declarations[0].verdict == verdict
    assert "the team saw it 2 s before the first signal" in journal.score.summary


def test_an_aborted_drill_has_no_score() -> None:
    state = _state([Declaration(at=at(1), by="bo", text="x")])
    journal = build(state, _secret(), status="aborted", ended_at=at(5), verdicts=[])
    assert journal.status == "aborted"
    assert journal.score.human_time_to_detect_s is None
    assert journal.score.pillars == []


def test_the_review_has_the_timeline_in_order_and_what_missed() -> None:
    state = _state(
        [
            Declaration(at=at(35), by="cy", text="downstream | slow", signal="trace"),
            Declaration(at=at(20), by="bo", text="postgres locked"),
        ]
    )
    journal = build(state, _secret(), status="scored", ended_at=at(100), verdicts=VERDICTS)
    text = review_markdown(journal)
    rows = [line for line in text.splitlines() if line.startswith("| +") or line.startswith("| -")]
    times = [row.split("|")[1].strip() for row in rows]
    assert times == sorted(times), times
    assert "| +00:00 | lab | fault `lat` starts |" in text
    assert "downstream \\| slow (right)" in text
    assert "postgres locked (wrong)" in text
    assert "- log logs: logs" in text
    assert "## Action items" in text
