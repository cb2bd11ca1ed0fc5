"""How long work reports how far it got: files and bytes hashed, and what it is doing.

A `Progress` is what the walk and hashing call as they go (from any of the
hashing threads, so an implementation must be thread-safe), and what a
download reports its bytes to; `progress_for_terminal` is the reporter
shown on a TTY.

On a terminal, a person waiting on a large bundle or on scrypt should see
that something happens; a script reading stderr, a log, or `--json` output
must not get a line of carriage returns. So `progress_for_terminal` shows
one updating line on a TTY only, and only once the work has taken about
half a second (small bundles print nothing), and clears it at the end.
A note (a path in it is untrusted) is escaped like everything printed.
"""

import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Protocol, Self, TextIO

from signing.terminal import escape


class Progress(Protocol):
    """Told of work as it is done; never asked anything back."""

    def advance(self, files: int, bytes: int) -> None:
        """`files` more files, and `bytes` more bytes, are done."""

    def note(self, message: str) -> None:
        """What is being done now, for work that has no count ("deriving key...")."""


SHOW_AFTER_SECONDS = 0.5
"""Work shorter than this shows no progress at all."""
_REDRAW_SECONDS = 0.1
_CLEAR_LINE = "\r\x1b[K"


class _ClosedAtExit:
    """`with reporter:` calls `close()` at the end, whatever happened."""

    def close(self) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


class NoProgress(_ClosedAtExit):
    """Shows nothing: the reporter for a pipe, a file, `--json` or `--quiet`."""

    def advance(self, files: int, bytes: int) -> None:
        pass

    def note(self, message: str) -> None:
        pass


class TerminalProgress(_ClosedAtExit):
    """One line on a terminal, rewritten in place: files, bytes (of the total, when known) and rate.

    Counts are kept under a lock, since hashing threads call `advance`
    concurrently; the line is redrawn at most ten times a second, and only
    once `show_after` seconds have passed since the first count (the rate
    is over that time too, not over a password prompt before it). A `note`
    is shown at once (it announces work that takes seconds and has no
    count) and cleared when counting starts. `close` (or the
    end of a `with` block) erases whatever was drawn, so the command's own
    output starts on a clean line.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        label: str,
        total_bytes: int | None = None,
        show_after: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`show_after` defaults to `SHOW_AFTER_SECONDS`, read when the reporter is made."""
        self._stream = stream
        self._label = label
        self._total_bytes = total_bytes
        self._show_after = SHOW_AFTER_SECONDS if show_after is None else show_after
        self._clock = clock
        self._lock = threading.Lock()
        self._started: float | None = None
        self._drawn_at: float | None = None
        self._files = 0
        self._bytes = 0

    def advance(self, files: int, bytes: int) -> None:
        with self._lock:
            now = self._clock()
            if self._started is None:
                self._started = now
                self._clear()  # a note before the counted work ("deriving...") is over
            self._files += files
            self._bytes += bytes
            elapsed = now - self._started
            if elapsed >= self._show_after and (self._drawn_at is None or now - self._drawn_at >= _REDRAW_SECONDS):
                self._draw(self._counts(elapsed), now)

    def note(self, message: str) -> None:
        with self._lock:
            self._draw(escape(message), self._clock())

    def close(self) -> None:
        with self._lock:
            self._clear()

    def _clear(self) -> None:
        if self._drawn_at is not None:
            self._stream.write(_CLEAR_LINE)
            self._stream.flush()
            self._drawn_at = None

    def _counts(self, elapsed: float) -> str:
        done = _size(self._bytes)
        if self._total_bytes is not None:
            done += f" of {_size(self._total_bytes)}"
        files = f"{self._files} file{'' if self._files == 1 else 's'}"
        rate = f", {_size(self._bytes / elapsed)}/s" if elapsed > 0 else ""
        return f"{self._label}: {files}, {done}{rate}"

    def _draw(self, line: str, now: float) -> None:
        self._stream.write(f"{_CLEAR_LINE}{line}")
        self._stream.flush()
        self._drawn_at = now


def _size(count: float) -> str:
    if count < 1024:
        return f"{count:.0f} B"
    for unit in ("KiB", "MiB"):
        count /= 1024
        if count < 1024:
            return f"{count:.1f} {unit}"
    return f"{count / 1024:.1f} GiB"


def progress_for_terminal(
    stream: TextIO, *, total_bytes: int | None = None, label: str = "hashing", quiet: bool = False
) -> TerminalProgress | NoProgress:
    """A `TerminalProgress` on `stream` if it is a TTY and not `quiet`; otherwise a `NoProgress`.

    The CLI passes `quiet` for `--quiet` and `--json`. Either reporter is a
    context manager that clears its line at the end.
    """
    if quiet or not stream.isatty():
        return NoProgress()
    return TerminalProgress(stream, label=label, total_bytes=total_bytes)
