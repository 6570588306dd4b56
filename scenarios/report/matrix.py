"""The detection matrix: which signal saw which failure, and how fast.

One row per scenario (its latest fault run), one column per signal kind.
A cell is the fastest time-to-detect of a passed detection expectation of
that kind; ``not seen`` when the scenario expects that kind to detect the
fault and none of those expectations passed; ``—`` when it expects nothing
of that kind. Absent expectations ("no Sentry issue") detect nothing and
never count. "Caught first by" names the kind and expectation with the
smallest time-to-detect of the row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from assertions.engine import Verdict
from scenarios.journal import Journal, write_atomic
from scenarios.report.rundir import JOURNAL_FILE, read_journal
from scenarios.report.templating import environment

SIGNAL_KINDS: tuple[str, ...] = ("metric", "alert", "trace", "sentry", "log", "health")
MATRIX_HTML = "matrix.html"
MATRIX_MD = "matrix.md"
NOT_SEEN = "not seen"
NOTHING = "—"

CellState = Literal["detected", "not seen", "none"]


@dataclass(frozen=True)
class Cell:
    """One scenario's detection by one signal kind."""

    kind: str
    state: CellState
    time_to_detect_s: float | None = None
    expectation_id: str | None = None
    missed: int = 0

    @property
    def text(self) -> str:
        if self.state == "none":
            return NOTHING
        if self.state == "not seen":
            return NOT_SEEN
        seen = "seen" if self.time_to_detect_s is None else f"{self.time_to_detect_s:.1f} s"
        return seen + (f" ({self.missed} not seen)" if self.missed else "")


@dataclass(frozen=True)
class MatrixRow:
    scenario: str
    run_id: str
    status: str
    cells: tuple[Cell, ...]

    @property
    def first(self) -> Cell | None:
        """The cell with the smallest time-to-detect (ties: the kind named first)."""
        timed = [c for c in self.cells if c.state == "detected" and c.time_to_detect_s is not None]
        return min(timed, key=lambda c: c.time_to_detect_s or 0.0, default=None)

    @property
    def caught_first_by(self) -> str:
        first = self.first
        if first is None:
            return NOT_SEEN
        return f"{first.kind} {first.expectation_id} ({first.time_to_detect_s:.1f} s)"

    def cell(self, kind: str) -> Cell:
        return next(c for c in self.cells if c.kind == kind)


@dataclass(frozen=True)
class Matrix:
    rows: tuple[MatrixRow, ...]
    kinds: tuple[str, ...] = SIGNAL_KINDS

    def row(self, scenario: str) -> MatrixRow:
        return next(r for r in self.rows if r.scenario == scenario)


def is_detection(verdict: Verdict, journal: Journal) -> bool:
    """False for an ``absent`` expectation (it asserts silence, it detects nothing).

    Journals record ``absent`` on each verdict; older ones only in the control
    judgements, or in the ``expected`` text, which then starts with ``no ``
    (``engine.describe``).
    """
    if verdict.absent is not None:
        return not verdict.absent
    if journal.control is not None:
        for judgement in journal.control.judgements:
            if judgement.id == verdict.id:
                return not judgement.absent
    return not verdict.expected.startswith("no ")


def _cell(kind: str, verdicts: Sequence[Verdict]) -> Cell:
    if not verdicts:
        return Cell(kind, "none")
    passed = [v for v in verdicts if v.status == "passed"]
    missed = len(verdicts) - len(passed)
    if not passed:
        return Cell(kind, "not seen", missed=missed)
    best = min(passed, key=lambda v: (v.time_to_detect_s is None, v.time_to_detect_s or 0.0))
    return Cell(kind, "detected", best.time_to_detect_s, best.id, missed)


def matrix_row(journal: Journal) -> MatrixRow:
    detecting = [v for v in journal.expectations if is_detection(v, journal)]
    return MatrixRow(
        scenario=journal.scenario,
        run_id=journal.run_id,
        status=journal.status,
        cells=tuple(_cell(k, [v for v in detecting if v.kind == k]) for k in SIGNAL_KINDS),
    )


def build_matrix(journals: Sequence[Journal]) -> Matrix:
    """One row per scenario: its latest fault run (no-fault runs are left out)."""
    latest: dict[str, Journal] = {}
    for journal in journals:
        if journal.no_fault:
            continue
        known = latest.get(journal.scenario)
        if known is None or journal.started_at > known.started_at:
            latest[journal.scenario] = journal
    return Matrix(rows=tuple(matrix_row(latest[name]) for name in sorted(latest)))


def journals_in(directory: Path) -> list[Journal]:
    """The journals of the run directories directly under ``directory`` (``*/journal.json``)."""
    return [read_journal(path) for path in sorted(directory.glob(f"*/{JOURNAL_FILE}"))]


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def matrix_markdown(matrix: Matrix) -> str:
    header = ["scenario", "status", *matrix.kinds, "caught first by"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in matrix.rows:
        cells = [row.scenario, row.status, *(row.cell(k).text for k in matrix.kinds)]
        cells.append(row.caught_first_by)
        lines.append("| " + " | ".join(_md_escape(c) for c in cells) + " |")
    note = (
        "\nEach cell: the fastest time-to-detect (from the fault's start) of that signal's "
        f"passed expectations; `{NOT_SEEN}`: expected but never seen; `{NOTHING}`: none expected.\n"
    )
    return "\n".join(lines) + "\n" + note


def matrix_html(matrix: Matrix) -> str:
    return environment().get_template("matrix.html.j2").render(matrix=matrix)


def write_matrix(matrix: Matrix, out_dir: Path) -> tuple[Path, Path]:
    """Write ``matrix.html`` and ``matrix.md`` (atomically) into ``out_dir``."""
    html_path, md_path = out_dir / MATRIX_HTML, out_dir / MATRIX_MD
    write_atomic(html_path, matrix_html(matrix))
    write_atomic(md_path, matrix_markdown(matrix))
    return html_path, md_path


__all__ = [
    "NOTHING",
    "NOT_SEEN",
    "SIGNAL_KINDS",
    "Cell",
    "Matrix",
    "MatrixRow",
    "build_matrix",
    "is_detection",
    "journals_in",
    "matrix_html",
    "matrix_markdown",
    "matrix_row",
    "write_matrix",
]
