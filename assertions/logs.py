"""The target's JSON-lines log file, read incrementally from a byte offset.

Usage::

    reader = LogReader(state_dir / "target" / "target.jsonl")
    batch = reader.read(offset)          # records from offset to the last full line
    offset = batch.offset                # where the next read starts
    errors = [r for r in batch.records if r.level == "error"]

The writer may be in the middle of a line: an unterminated last line is left
for the next read (``batch.offset`` stops before it). A complete line that is
not a JSON object (a stray print, a traceback) is skipped and counted in
``batch.skipped``. When the file is shorter than the offset (truncated or
replaced) reading starts again at 0 and ``batch.restarted`` says so. A
missing or unreadable file is :class:`~assertions.exceptions.BackendUnavailable`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter, ValidationError

from assertions.exceptions import BackendUnavailable

BACKEND = "logs"


class LogRecord(BaseModel):
    """One JSON log line: its fields, and where it starts in the file."""

    model_config = ConfigDict(frozen=True)

    #: Byte offset of the line's first byte.
    offset: int
    fields: dict[str, JsonValue]

    def get(self, key: str) -> JsonValue:
        """A field's value, None when absent."""
        return self.fields.get(key)

    def _text(self, key: str) -> str | None:
        value = self.fields.get(key)
        return value if isinstance(value, str) else None

    @property
    def event(self) -> str | None:
        """structlog's ``event`` (the event name, or the message of a stdlib record)."""
        return self._text("event")

    @property
    def level(self) -> str | None:
        return self._text("level")

    @property
    def run_id(self) -> str | None:
        return self._text("run_id")

    @property
    def trace_id(self) -> str | None:
        return self._text("trace_id")

    @property
    def timestamp(self) -> datetime | None:
        """``timestamp`` parsed as ISO 8601 (None when absent or not a timestamp)."""
        raw = self._text("timestamp")
        if raw is None:
            return None
        try:
            return datetime.fromisoformat(raw)
        except ValueError:
            return None


class LogBatch(BaseModel):
    """What one read found."""

    model_config = ConfigDict(frozen=True)

    path: str
    #: Offset the read started from (0 after a restart).
    start_offset: int
    #: Offset to pass to the next read: just past the last complete line.
    offset: int
    records: list[LogRecord] = Field(default_factory=list)
    #: Complete, non-blank lines that were not a JSON object.
    skipped: int = 0
    #: Bytes of an unterminated last line, left for the next read.
    pending_bytes: int = 0
    #: The file was shorter than the requested offset, so reading restarted at 0.
    restarted: bool = False


_OBJECT = TypeAdapter(dict[str, JsonValue])


def _parse(line: bytes) -> dict[str, JsonValue] | None:
    """A JSON object, or None for anything else (invalid JSON or UTF-8, an array...)."""
    try:
        return _OBJECT.validate_json(line)
    except ValidationError:
        return None


class LogReader:
    """Reads a JSON-lines file; :meth:`poll` keeps its own offset between calls."""

    def __init__(self, path: Path | str, offset: int = 0) -> None:
        self.path = Path(path)
        #: Where the next :meth:`poll` starts.
        self.offset = offset

    def size(self) -> int:
        """The file's current size: an offset that skips everything logged so far."""
        try:
            return self.path.stat().st_size
        except OSError as exc:
            raise BackendUnavailable(BACKEND, str(self.path), _reason(exc)) from exc

    def read(self, offset: int = 0) -> LogBatch:
        """Every complete line from ``offset`` on."""
        try:
            with self.path.open("rb") as file:
                size = file.seek(0, 2)
                restarted = size < offset
                start = 0 if restarted else offset
                file.seek(start)
                data = file.read()
        except OSError as exc:
            raise BackendUnavailable(BACKEND, str(self.path), _reason(exc)) from exc
        records: list[LogRecord] = []
        skipped = 0
        position = start
        complete = data[: data.rfind(b"\n") + 1]
        for line in complete.split(b"\n")[:-1]:
            line_offset = position
            position += len(line) + 1
            if not line.strip():
                continue
            fields = _parse(line)
            if fields is None:
                skipped += 1
            else:
                records.append(LogRecord(offset=line_offset, fields=fields))
        return LogBatch(
            path=str(self.path),
            start_offset=start,
            offset=start + len(complete),
            records=records,
            skipped=skipped,
            pending_bytes=len(data) - len(complete),
            restarted=restarted,
        )

    def poll(self) -> LogBatch:
        """Read from where the previous poll stopped, and advance."""
        batch = self.read(self.offset)
        self.offset = batch.offset
        return batch


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


__all__ = ["LogBatch", "LogReader", "LogRecord"]
