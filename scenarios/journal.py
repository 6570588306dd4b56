"""The run journal (``journal.json``) and its JUnit rendering (``junit.xml``).

Field names are a contract (DESIGN.md): add, never rename.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from assertions.engine import Verdict
from scenarios.loadmodel import LoadReport

RunStatus = Literal["passed", "failed", "aborted", "error"]


class FaultRecord(BaseModel):
    id: str
    kind: str
    target: str
    started_at: datetime | None = None
    ended_at: datetime | None = None
    injected: bool = True
    detail: str = ""
    error: str | None = None
    scheduled_at: float | None = Field(
        default=None, description="offset from the start of the load the fault was due at (s)"
    )
    start_lateness_s: float | None = Field(
        default=None, description="how much later than scheduled the fault was in effect"
    )
    end_lateness_s: float | None = Field(
        default=None, description="how much later than scheduled the fault was rolled back"
    )


class UnexpectedAlert(BaseModel):
    """An alert that fired during the run although no expectation names it."""

    alertname: str
    labels: dict[str, str] = Field(default_factory=dict)
    first_firing_at: datetime


Judgement = Literal["proven", "vacuous", "missed", "held", "broken", "error"]
JUDGEMENTS: dict[str, str] = {
    "proven": "met with the fault, not met without it",
    "vacuous": "met with and without the fault: it proves nothing",
    "missed": "not met with the fault",
    "held": "an absent expectation that held in both runs",
    "broken": "an absent expectation that did not hold in one of the runs",
    "error": "a backend could not be asked in one of the runs",
}


class ExpectationJudgement(BaseModel):
    id: str
    kind: str
    absent: bool
    fault_status: str
    control_status: str
    judgement: Judgement

    @property
    def good(self) -> bool:
        return self.judgement in ("proven", "held")


class ControlReport(BaseModel):
    """``--control``: the identical no-fault run on the same stack, and what it proves."""

    run_id: str
    status: RunStatus
    journal: str = Field(description="path of the control run's own journal.json")
    judgements: list[ExpectationJudgement] = Field(default_factory=list)

    @property
    def all_good(self) -> bool:
        return bool(self.judgements) and all(j.good for j in self.judgements)


class Journal(BaseModel):
    scenario: str
    run_id: str
    status: RunStatus = "error"
    started_at: datetime
    finished_at: datetime | None = None
    stack: str = "local"
    no_fault: bool = False
    seed: int | None = None
    faults: list[FaultRecord] = Field(default_factory=list)
    expectations: list[Verdict] = Field(default_factory=list)
    load: LoadReport = Field(default_factory=LoadReport)
    rolled_back: list[str] = Field(
        default_factory=list, description="every fault undo the ledger ran, in order"
    )
    rollback_errors: list[str] = Field(default_factory=list)
    error: str | None = None
    wall_time_s: float | None = None
    stack_owned: bool = Field(
        default=True, description="False when the run attached to a stack `chaoslab up` left"
    )
    restarted: list[str] = Field(
        default_factory=list, description="components restarted to apply the scenario's settings"
    )
    target_profile: str | None = Field(
        default=None, description="name of the target profile the stack ran"
    )
    rule_time_scale: str | None = Field(
        default=None, description="time scale the alert rules were loaded at (e.g. 1/30)"
    )
    unexpected_alerts: list[UnexpectedAlert] = Field(default_factory=list)
    series_errors: list[str] = Field(
        default_factory=list,
        description="why series.json (the rules' raw series, for `chaoslab export promtool`) "
        "is missing or incomplete; never changes the status",
    )
    load_log_tail: str | None = Field(
        default=None, description="Locust's last output lines when the load failed"
    )
    control: ControlReport | None = None
    warnings: list[str] = Field(
        default_factory=list,
        description="what went wrong beside the verdict and never changes it (e.g. a fault "
        "annotation Grafana refused)",
    )


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file and a rename: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def junit_xml(journal: Journal) -> str:
    """One test case per expectation, ``time_to_detect_s`` as a property."""
    verdicts = journal.expectations
    failures = sum(1 for v in verdicts if v.status == "failed")
    errors = sum(1 for v in verdicts if v.status in ("error", "pending"))
    suite = ET.Element(
        "testsuite",
        name=f"chaoslab.{journal.scenario}",
        tests=str(len(verdicts)),
        failures=str(failures),
        errors=str(errors),
        timestamp=journal.started_at.isoformat(),
        time=f"{journal.wall_time_s or 0:.3f}",
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("run_id", journal.run_id),
        ("status", journal.status),
        ("seed", str(journal.seed)),
    ):
        ET.SubElement(props, "property", name=name, value=value)
    for verdict in verdicts:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"{journal.scenario}.{verdict.kind}",
            name=verdict.id,
            time="0",
        )
        case_props = ET.SubElement(case, "properties")
        ET.SubElement(case_props, "property", name="description", value=verdict.description)
        if verdict.time_to_detect_s is not None:
            ET.SubElement(
                case_props,
                "property",
                name="time_to_detect_s",
                value=f"{verdict.time_to_detect_s:.3f}",
            )
        if verdict.status == "failed":
            failure = ET.SubElement(case, "failure", message=verdict.expected)
            failure.text = verdict.message
        elif verdict.status in ("error", "pending"):
            error = ET.SubElement(case, "error", message=verdict.message or verdict.status)
            error.text = verdict.message
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def write(journal: Journal, out_dir: Path) -> tuple[Path, Path]:
    journal_path = out_dir / "journal.json"
    junit_path = out_dir / "junit.xml"
    write_atomic(journal_path, journal.model_dump_json(indent=2) + "\n")
    write_atomic(junit_path, junit_xml(journal))
    return journal_path, junit_path
