"""Fault start and end as annotations on the stack's Grafana (the compose stack runs one).

    notes = FaultAnnotations.for_stack(stack.endpoints, scenario="pool-exhaustion", run_id=rid)
    notes.started("pool-hog", "db_connection_hog", "10 sessions held", at=start)  # POST
    notes.ended("pool-hog", at=end)  # PATCH /api/annotations/ID: the point becomes a region

The dashboard (``stack/grafana/dashboard.py``, a dev-time build) shows every
annotation tagged :data:`FAULT_TAG` as a red region (a unit test holds the two
tags equal), so the annotations
are organisation-wide (no dashboard UID): any dashboard can show them with the
same tag query. A start is posted as a point; its end turns it into a region.

Grafana's HTTP API, as documented for the versions the compose file pins:
``POST /api/annotations`` takes ``time``/``timeEnd`` in epoch milliseconds,
``tags`` and ``text`` and answers ``{"message": "Annotation added", "id": N}``;
``PATCH /api/annotations/N`` updates the fields it is given (an empty ``tags``
list would clear them, so the patch sends ``timeEnd`` alone). Basic auth with
the admin login the stack recorded: anonymous users are viewers and may not
post.

An annotation is a convenience for people looking at the dashboard, not a
signal: a Grafana that does not answer never changes a verdict or the exit
code. Each problem is kept in :attr:`FaultAnnotations.problems` (the runner
puts them in the journal's ``warnings``) and the rest of the run carries on.

The grafana-client package would do these two calls, but its HTTP library
(niquests) installs urllib3-future over ``urllib3``, which requests and Locust
run on; two calls through httpx, the lab's HTTP client everywhere else, are
the smaller risk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from stack.state import Endpoints

FAULT_TAG = "chaoslab-fault"
TIMEOUT_S = 5.0


def epoch_ms(at: datetime) -> int:
    return round(at.timestamp() * 1000)


@dataclass
class FaultAnnotations:
    """Posts each fault of one run to Grafana; never raises."""

    url: str
    user: str
    password: str
    scenario: str
    run_id: str
    transport: httpx.BaseTransport | None = None
    problems: list[str] = field(default_factory=list)
    _ids: dict[str, int] = field(default_factory=dict)

    @classmethod
    def for_stack(
        cls, endpoints: Endpoints, *, scenario: str, run_id: str
    ) -> FaultAnnotations | None:
        """The stack's Grafana, or None when the stack runs none (the local stack)."""
        if not endpoints.grafana_url:
            return None
        user, _, password = endpoints.grafana_login.partition(" / ")
        return cls(
            url=endpoints.grafana_url.rstrip("/"),
            user=user,
            password=password,
            scenario=scenario,
            run_id=run_id,
        )

    def tags(self, fault_id: str, kind: str) -> list[str]:
        return [FAULT_TAG, f"scenario:{self.scenario}", f"fault:{fault_id}", f"kind:{kind}"]

    def started(self, fault_id: str, kind: str, detail: str, *, at: datetime) -> None:
        body = {
            "time": epoch_ms(at),
            "tags": self.tags(fault_id, kind),
            "text": self._text(fault_id, detail),
        }
        answer = self._call("POST", "/api/annotations", body, f"start of fault {fault_id}")
        annotation = None if answer is None else answer.get("id")
        if isinstance(annotation, int):
            self._ids[fault_id] = annotation
        elif answer is not None:
            self.problems.append(
                f"Grafana annotation for the start of fault {fault_id}: the answer has no id"
            )

    def ended(self, fault_id: str, *, at: datetime) -> None:
        annotation = self._ids.pop(fault_id, None)
        if annotation is None:
            return  # its start was never posted (the problem is already recorded)
        body = {"timeEnd": epoch_ms(at)}
        self._call("PATCH", f"/api/annotations/{annotation}", body, f"end of fault {fault_id}")

    def region(
        self, fault_id: str, kind: str, detail: str, *, start: datetime, end: datetime
    ) -> None:
        """A fault already over, posted whole (a drill reveals its faults only at the end)."""
        body = {
            "time": epoch_ms(start),
            "timeEnd": epoch_ms(end),
            "tags": self.tags(fault_id, kind),
            "text": self._text(fault_id, detail),
        }
        self._call("POST", "/api/annotations", body, f"fault {fault_id}")

    def _text(self, fault_id: str, detail: str) -> str:
        return f"{self.scenario}: fault {fault_id} ({detail}); run {self.run_id}"

    def _call(
        self, method: str, path: str, body: Mapping[str, object], what: str
    ) -> dict[str, object] | None:
        try:
            with httpx.Client(
                base_url=self.url,
                auth=(self.user, self.password),
                timeout=TIMEOUT_S,
                transport=self.transport,
            ) as client:
                response = client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            self.problems.append(f"Grafana annotation for the {what}: {self.url}: {exc}")
            return None
        if response.status_code != 200:
            self.problems.append(
                f"Grafana annotation for the {what}: {method} {path} answered "
                f"{response.status_code}: {_message(response)}"
            )
            return None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            self.problems.append(f"Grafana annotation for the {what}: the answer is not JSON")
            return None
        return answer


def _message(response: httpx.Response) -> str:
    try:
        answer = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(answer, dict) and isinstance(answer.get("message"), str):
        return str(answer["message"])
    return response.text[:200]


def annotate_regions(
    notes: FaultAnnotations | None, faults: Iterable[tuple[str, str, str, datetime, datetime]]
) -> list[str]:
    """Post each finished fault ``(id, kind, detail, start, end)`` as a region; the problems."""
    if notes is None:
        return []
    for fault_id, kind, detail, start, end in faults:
        notes.region(fault_id, kind, detail, start=start, end=end)
    return list(notes.problems)
