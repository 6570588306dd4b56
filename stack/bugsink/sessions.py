"""Processes left in a session we created (gunicorn workers outliving their master)."""

from __future__ import annotations

from pathlib import Path

from stack.process import process_start_time, stop_pid


def session_members(session_id: int) -> list[int]:
    """PIDs of live (non-zombie) processes whose session id is ``session_id``."""
    members: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        # fields: state, ppid, pgrp, session, ...
        if fields[0] != "Z" and int(fields[3]) == session_id:
            members.append(int(entry.name))
    return members


def stop_session(session_id: int, grace: float = 5.0) -> None:
    """Stop every process still in ``session_id``, each by its own PID.

    ``ManagedProcess`` starts each component with ``start_new_session=True``,
    so the session id is the PID of the process we spawned and only its
    descendants can be in it.
    """
    for pid in session_members(session_id):
        stop_pid(pid, process_start_time(pid), grace=grace)
