"""A minimal progress bar on stderr (no third-party dependency)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["ProgressBar"]


class ProgressBar:
    """Text progress bar: redrawn in place on a terminal, else one line per :meth:`close`.

    Parameters
    ----------
    total : int
        Number of steps.
    description : str
        Text before the bar.
    stream : file, default sys.stderr
    enabled : bool, default True
        ``False`` prints nothing at all.
    width : int, default 24
        Bar width in characters.
    """

    def __init__(
        self,
        total: int,
        description: str = "",
        *,
        stream: TextIO | None = None,
        enabled: bool = True,
        width: int = 24,
    ) -> None:
        self.total = max(1, int(total))
        self.description = description
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.width = width
        self.done = 0
        self.postfix = ""
        self.start = time.perf_counter()
        isatty = getattr(self.stream, "isatty", None)
        self.interactive = bool(isatty and isatty())

    def _line(self) -> str:
        filled = int(self.width * self.done / self.total)
        elapsed = time.perf_counter() - self.start
        bar = "#" * filled + "." * (self.width - filled)
        line = f"{self.description} [{bar}] {self.done}/{self.total} {elapsed:.1f}s {self.postfix}"
        return line.rstrip()

    def update(self, n: int = 1, postfix: str = "") -> None:
        """Advance ``n`` steps and set the text shown after the bar."""
        self.done = min(self.total, self.done + n)
        self.postfix = postfix
        if self.enabled and self.interactive:
            self.stream.write("\r" + self._line())
            self.stream.flush()

    def close(self, postfix: str | None = None) -> None:
        """Finish the bar (prints the final state on its own line)."""
        if postfix is not None:
            self.postfix = postfix
        if self.enabled:
            self.stream.write(("\r" if self.interactive else "") + self._line() + "\n")
            self.stream.flush()
