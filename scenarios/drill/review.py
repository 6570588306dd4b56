"""The Markdown post-incident review skeleton of a drill (timeline, detections, gaps)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from scenarios.drill.model import DrillJournal, FaultSeen


@dataclass(frozen=True)
class Row:
    at: datetime
    time: str
    who: str
    what: str


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("scenarios.drill", "templates"),
        autoescape=False,  # Markdown, not HTML  # noqa: S701
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _offset(at: datetime, start: datetime | None) -> str:
    if start is None:
        return f"{at:%H:%M:%S}"
    seconds = (at - start).total_seconds()
    sign = "-" if seconds < 0 else "+"
    whole = int(abs(seconds))
    return f"{sign}{whole // 60:02d}:{whole % 60:02d}"


def timeline(j: DrillJournal) -> list[Row]:
    """Faults, declarations, hints, notes and detections, in time order."""
    start = j.fault_started_at
    rows: list[Row] = []
    for seen in j.seen:
        if seen.started_at is not None:
            rows.append(Row(seen.started_at, "", "lab", f"fault `{seen.id}` starts"))
    for d in j.declarations:
        rows.append(Row(d.at, "", d.by, f"declares: {_cell(d.text)} ({d.verdict})"))
    for h in j.hints:
        rows.append(Row(h.at, "", "facilitator", f"hint {h.level}: {_cell(h.text)}"))
    for n in j.notes:
        rows.append(Row(n.at, "", n.by or "scribe", _cell(n.text)))
    for a in j.automated:
        if a.detected_at is not None:
            rows.append(Row(a.detected_at, "", a.signal, f"`{a.id}` detects it"))
    rows.sort(key=lambda r: r.at)
    return [Row(r.at, _offset(r.at, start), r.who, r.what) for r in rows]


def review_markdown(j: DrillJournal) -> str:
    def seen(fault_id: str) -> FaultSeen | None:
        return next((s for s in j.seen if s.id == fault_id and s.started_at), None)

    def when(at: datetime | None) -> str:
        return "—" if at is None else f"{at:%Y-%m-%d %H:%M:%S} UTC"

    def secs(value: float | None) -> str:
        return "—" if value is None else f"{value:.1f} s"

    template = _environment().get_template("review.md.j2")
    return template.render(j=j, timeline=timeline(j), seen=seen, when=when, secs=secs)
