"""What the drill commands print: times from the drill's start, the stack's screens."""

from __future__ import annotations

from datetime import datetime

from stack.state import StackState

PROGRESS_EVERY_S = 10.0


def say(text: str = "") -> None:
    print(text, flush=True)


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    sign = "-" if seconds < 0 else "+"
    whole = int(abs(seconds))
    return f"{sign}{whole // 60:02d}:{whole % 60:02d}"


def since(at: datetime, start: datetime | None) -> str:
    return "-" if start is None else clock((at - start).total_seconds())


def links(stack: StackState) -> dict[str, str]:
    """Every screen of the stack a responder may look at."""
    ep = stack.endpoints
    health = next(
        (c.health_path for n, c in stack.components.items() if n == "target" and c.health_path),
        "/healthz",
    )
    found = {
        "dashboard": ep.dashboard_url,
        "prometheus": f"{ep.prometheus_url}/graph" if ep.prometheus_url else "",
        "prometheus alerts": f"{ep.prometheus_url}/alerts" if ep.prometheus_url else "",
        # Debian's Alertmanager ships no web UI: its API lists the alerts it holds.
        "alertmanager": f"{ep.alertmanager_url}/api/v2/alerts" if ep.alertmanager_url else "",
        "bugsink": f"{ep.bugsink_url}/" if ep.bugsink_url else "",
        "bugsink login": ep.bugsink_login,
        "traces": f"{ep.traces_url}/search" if ep.traces_url else "",
        "target health": f"{ep.target_url}{health}" if ep.target_url else "",
        "target log": ep.target_log,
    }
    return {name: url for name, url in found.items() if url}


def print_links(stack: StackState) -> None:
    say("Screens:")
    for name, url in links(stack).items():
        say(f"  {name:<18} {url}")


def phase_words(phase: str, alive: bool) -> str:
    if phase in ("starting", "running", "ending") and not alive:
        return "its background process stopped — the facilitator should run `chaoslab drill end`"
    return {
        "starting": "starting",
        "running": "under way",
        "ending": "ending",
        "finished": "load over (the longest duration passed); `chaoslab drill end` scores it",
        "failed": "stopped by a lab failure; `chaoslab drill end` shows why",
        "aborted": "aborted (faults rolled back); `chaoslab drill end` closes it",
        "ended": "ended",
    }[phase]
