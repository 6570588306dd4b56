"""Errors raised by the stack package.

Tree::

    StackError                    root of everything the stack raises
    ├── BinaryNotFound            a required executable is not installed
    ├── ComponentFailed           a component exited or never became healthy
    ├── StackStateError           the state directory is inconsistent or busy
    ├── ProfileRejected           the target profile cannot work as written (url unreachable,
    │                             command exits at once, metrics path missing): invalid input
    └── RuleScaleError            a rule file cannot be loaded at the asked time scale
"""

from __future__ import annotations


class StackError(Exception):
    """Root of every error raised by :mod:`stack`."""


class BinaryNotFound(StackError):
    """A required executable is missing; the message says how to install it."""

    def __init__(self, binary: str, hint: str) -> None:
        super().__init__(f"{binary!r} was not found. {hint}")
        self.binary = binary
        self.hint = hint


class ComponentFailed(StackError):
    """A component exited early or did not become healthy in time."""

    def __init__(self, component: str, reason: str, argv: list[str], log_tail: str) -> None:
        cmd = " ".join(argv)
        super().__init__(
            f"{component} failed: {reason}\n  command: {cmd}\n  last log lines:\n{log_tail}"
        )
        self.component = component
        self.reason = reason
        self.argv = argv
        self.log_tail = log_tail


class StackStateError(StackError):
    """The state directory cannot be used as asked."""


class ProfileRejected(StackError):
    """A target profile that passed validation but cannot work as written.

    ``loc`` is where in the profile the problem is (``("url",)``, ``("command",)``,
    ``("metrics", 0)``...), so the caller can report its file and line; it is
    invalid input (exit 2), not a failure of the lab.
    """

    def __init__(self, loc: tuple[str | int, ...], reason: str) -> None:
        super().__init__(reason)
        self.loc = loc
        self.reason = reason


class RuleScaleError(StackError):
    """A rule or rule file cannot be loaded at the asked time scale (the reason says why)."""
