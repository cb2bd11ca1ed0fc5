"""Run the `packseal` command in this process, or as a child process where the boundary is what is tested.

A child process costs ~165 ms of interpreter start and imports per run,
most of the CLI tests' time. `run_in_process` runs the console script's
entry point (`signing.cli.main`) here instead, with what a child would
have: exactly the given environment, working directory, stdin (never a
terminal), its own stdout and stderr as bytes or text, Python's default
warning filters and logging, the exit status the interpreter would exit
with, and a time limit. Everything it changes is put back, so no state
passes from one run to the next but what a module import keeps.

`run_as_child` runs the installed script: for tests of the process itself
(a signal, `/proc/self/exe`, start-up imports, file modes bound by dropped
capabilities, a terminal). `tests/cli/test_console_script.py` checks that
both give the same result.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
import threading
import traceback
import types
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

PACKSEAL = Path(sys.executable).parent / "packseal"

# What `python` starts with (sys.warnoptions empty): later filters first, as warnings.filters lists them.
_DEFAULT_WARNING_FILTERS = (
    ("default", DeprecationWarning, "__main__"),
    ("ignore", DeprecationWarning, None),
    ("ignore", PendingDeprecationWarning, None),
    ("ignore", ImportWarning, None),
    ("ignore", ResourceWarning, None),
)


def run_as_child(
    arguments: Sequence[Any],
    *,
    env: Mapping[str, str],
    input: str | bytes | None = None,
    text: bool = True,
    cwd: Path | str | None = None,
    timeout: float | None = 120,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess:
    """The installed `packseal` script in a child process, stdin from `input` or /dev/null."""
    return subprocess.run(
        [str(PACKSEAL), *map(str, arguments)],
        capture_output=True,
        text=text,
        env=dict(env),
        cwd=cwd,
        timeout=timeout,
        preexec_fn=preexec_fn,
        **({"stdin": subprocess.DEVNULL} if input is None else {"input": input}),
    )


class _Overran(BaseException):
    """Raised into the command by the timer; a BaseException, so no `except Exception` in packseal swallows it."""


def run_in_process(
    arguments: Sequence[Any],
    *,
    env: Mapping[str, str],
    input: str | bytes | None = None,
    text: bool = True,
    cwd: Path | str | None = None,
    timeout: float | None = 120,
) -> subprocess.CompletedProcess:
    """`run_as_child` without the child: the same exit status, stdout and stderr, in this process.

    A run that outlasts `timeout` is interrupted (SIGALRM, which also ends a
    blocked `open` of a FIFO) and raises `subprocess.TimeoutExpired`, as a
    child would be killed.
    """
    from signing.cli import main

    argv = [str(PACKSEAL), *map(str, arguments)]
    stdin_bytes = input.encode() if isinstance(input, str) else (input or b"")
    stdout, stderr = _Stream(sys.stdout), _Stream(sys.stderr)
    overran = False
    with ExitStack() as stack:
        stack.enter_context(mock.patch.dict(os.environ, env, clear=True))
        stack.enter_context(mock.patch.object(sys, "argv", argv))
        stack.enter_context(_script_as_main())
        stack.enter_context(mock.patch.object(sys, "stdin", _Stream(sys.stdin, stdin_bytes).text))
        stack.enter_context(mock.patch.object(sys, "stdout", stdout.text))
        stack.enter_context(mock.patch.object(sys, "stderr", stderr.text))
        stack.enter_context(_working_directory(cwd))
        stack.enter_context(_fresh_warnings())
        stack.enter_context(_fresh_logging())
        try:
            with _time_limit(timeout):
                main()
            returncode = 0
        except SystemExit as stop:
            returncode = _exit_status(stop.code)
        except _Overran:
            overran = True
        except KeyboardInterrupt:
            traceback.print_exc()
            returncode = -signal.SIGINT
        except BaseException:  # noqa: BLE001  # the interpreter's answer to an uncaught exception: tests look for it
            traceback.print_exc()
            returncode = 1
        finally:
            stdout.text.flush()
            stderr.text.flush()
    if overran:
        raise subprocess.TimeoutExpired(argv, timeout or 0, output=stdout.value(text), stderr=stderr.value(text))
    return subprocess.CompletedProcess(argv, returncode, stdout.value(text), stderr.value(text))


class _Stream:
    """A standard stream as a child has it: UTF-8 text over bytes, not a terminal."""

    def __init__(self, replaced: Any, initial: bytes = b"") -> None:
        self._bytes = io.BytesIO(initial)
        self.text = _CommandText(self._bytes, replaced)

    def value(self, text: bool) -> str | bytes:
        """What the parent reads: bytes, or text decoded with universal newlines as `subprocess.run(text=True)`."""
        data = self._bytes.getvalue()
        if not text:
            return data
        return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


class _CommandText(io.TextIOWrapper):
    """What the command prints from the thread it runs in; other threads still write where they did.

    The local Sigstore instance serves requests from threads of this
    process, and what it prints belongs to the test, not to the command.
    packseal prints from the main thread only. A `TextIOWrapper`, so
    `main` can reconfigure it as it does the real streams.
    """

    def __init__(self, buffer: io.BytesIO, replaced: Any) -> None:
        super().__init__(buffer, encoding="utf-8", errors="strict")
        self._replaced = replaced
        self._command_thread = threading.get_ident()

    def write(self, text: str) -> int:
        if threading.get_ident() != self._command_thread:
            return int(self._replaced.write(text))
        return super().write(text)


def _exit_status(code: object) -> int:
    """The status the interpreter exits with for `sys.exit(code)`."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


@contextmanager
def _script_as_main() -> Iterator[None]:
    """A script as `__main__`, not pytest's package: click names the program after `sys.argv[0]` then."""
    running = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = running


@contextmanager
def _working_directory(cwd: Path | str | None) -> Iterator[None]:
    if cwd is None:
        yield
        return
    before = os.getcwd()
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(before)


@contextmanager
def _fresh_warnings() -> Iterator[None]:
    """Python's start-up warning filters, shown on the (redirected) stderr, not recorded by pytest."""
    with warnings.catch_warnings():
        warnings.resetwarnings()
        for action, category, module in reversed(_DEFAULT_WARNING_FILTERS):
            warnings.filterwarnings(action, category=category, module=module or "")
        warnings.showwarning = _show_warning
        yield


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


@contextmanager
def _fresh_logging() -> Iterator[None]:
    """Logging as at start-up: a root logger without handlers, so a record no handler takes reaches stderr.

    Every logger's handlers are put back afterwards: `main` adds one to the
    loggers of its dependencies on every run, and they would pile up. (A
    logger first made during a run keeps its handler, as a child's would.)
    """
    loggers = [logging.getLogger(), *(
        logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    )]  # fmt: skip
    saved = [(logger, list(logger.handlers), logger.level, logger.disabled) for logger in loggers]
    root = logging.getLogger()
    root.handlers = []
    root.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, handlers, level, disabled in saved:
            logger.handlers = handlers
            logger.setLevel(level)
            logger.disabled = disabled


@contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def overrun(signum: int, frame: object) -> None:
        raise _Overran

    previous = signal.signal(signal.SIGALRM, overrun)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
