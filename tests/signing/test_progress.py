"""The progress line: on a terminal only, after half a second, one line rewritten in place, cleared at the end.

The terminal is a real pseudo-terminal (`os.openpty`): what the reporter
decides from `isatty()` is what a person's terminal would get, and what it
writes is read back from the controlling side. Time is a clock the test
moves, so "after half a second" is exact, not a sleep.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import pytest

from signing.progress import SHOW_AFTER_SECONDS, NoProgress, TerminalProgress, progress_for_terminal

CLEAR_LINE = "\r\x1b[K"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def terminal() -> Iterator[tuple[TextIO, int]]:
    """A text stream on a pseudo-terminal's follower side, and the controller's descriptor to read it."""
    controller, follower = os.openpty()
    stream = open(follower, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        yield stream, controller
    finally:
        stream.close()
        os.close(controller)


def written(controller: int) -> str:
    """Everything written to the terminal so far (the follower side has flushed it)."""
    os.set_blocking(controller, False)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode()


def test_a_pipe_gets_no_progress(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    with open(write_end, "w") as pipe, progress_for_terminal(pipe) as progress:
        progress.note("deriving the key...")
        progress.advance(3, 10 * 1024 * 1024)
    with open(read_end, "rb") as reader:
        assert reader.read() == b""
    assert isinstance(progress, NoProgress)


def test_a_file_gets_no_progress(tmp_path: Path) -> None:
    with open(tmp_path / "log", "w") as log, progress_for_terminal(log) as progress:
        progress.note("deriving the key...")
        progress.advance(1, 1)
    assert (tmp_path / "log").read_text() == ""


def test_quiet_on_a_terminal_gets_no_progress(terminal: tuple[TextIO, int]) -> None:
    stream, controller = terminal
    with progress_for_terminal(stream, quiet=True) as progress:
        progress.note("deriving the key...")
        progress.advance(1, 1)
    assert isinstance(progress, NoProgress)
    assert written(controller) == ""


def test_a_terminal_gets_a_reporter(terminal: tuple[TextIO, int]) -> None:
    stream, _ = terminal
    assert isinstance(progress_for_terminal(stream), TerminalProgress)


def test_nothing_is_shown_before_half_a_second_of_work(terminal: tuple[TextIO, int]) -> None:
    stream, controller = terminal
    clock = Clock()
    progress = TerminalProgress(stream, label="verifying", clock=clock)
    progress.advance(1, 1024)
    clock.now += SHOW_AFTER_SECONDS - 0.01
    progress.advance(1, 1024)
    progress.close()

    assert written(controller) == ""


def test_long_work_shows_files_bytes_and_rate_on_one_line_then_clears_it(terminal: tuple[TextIO, int]) -> None:
    stream, controller = terminal
    clock = Clock()
    with TerminalProgress(stream, label="verifying", total_bytes=40 * 1024 * 1024, clock=clock) as progress:
        progress.advance(1, 10 * 1024 * 1024)
        clock.now += 1.0
        progress.advance(1, 10 * 1024 * 1024)
        shown = written(controller)
        clock.now += 0.05  # within a tenth of a second of the last line: not redrawn
        progress.advance(1, 1)
        assert written(controller) == ""
    cleared = written(controller)

    assert shown == f"{CLEAR_LINE}verifying: 2 files, 20.0 MiB of 40.0 MiB, 20.0 MiB/s", shown
    assert "\n" not in shown
    assert cleared == CLEAR_LINE


def test_a_note_shows_at_once_and_counting_clears_it(terminal: tuple[TextIO, int]) -> None:
    stream, controller = terminal
    clock = Clock()
    progress = TerminalProgress(stream, label="signing", clock=clock)
    progress.note("deriving the key of keys/release.key from its password (scrypt, a few seconds)...")
    noted = written(controller)
    clock.now += 5.0  # scrypt; the rate is over the counted work, not this
    progress.advance(1, 1024)

    assert noted == f"{CLEAR_LINE}deriving the key of keys/release.key from its password (scrypt, a few seconds)..."
    assert written(controller) == CLEAR_LINE


def test_a_note_cannot_drive_the_terminal(terminal: tuple[TextIO, int]) -> None:
    """A path in a note is untrusted: its control characters are escaped, not sent to the terminal."""
    stream, controller = terminal
    TerminalProgress(stream, label="signing").note("deriving the key of evil\x1b]0;owned\x07\x1b[2J.key")

    shown = written(controller)
    assert "\x1b]" not in shown and "\x1b[2J" not in shown and "\x07" not in shown, repr(shown)
    assert "evil" in shown


def test_counts_from_many_threads_are_all_counted(terminal: tuple[TextIO, int]) -> None:
    stream, controller = terminal
    clock = Clock()
    progress = TerminalProgress(stream, label="hashing", show_after=0.0, clock=clock)

    def hash_files() -> None:
        for _ in range(2000):
            progress.advance(1, 512)

    threads = [threading.Thread(target=hash_files) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    clock.now += 1.0
    progress.advance(0, 0)

    assert written(controller).rsplit(CLEAR_LINE, 1)[-1] == "hashing: 16000 files, 7.8 MiB, 7.8 MiB/s"
