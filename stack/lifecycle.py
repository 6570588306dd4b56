"""The one way every stack component is used as a context manager."""

from __future__ import annotations

from typing import Self


class Lifecycle:
    """``with component:`` starts it, and stops it whatever happens inside the block."""

    def start(self) -> object:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
