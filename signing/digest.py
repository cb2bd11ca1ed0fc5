"""Streaming sha256 of files, in constant memory, on every core.

One buffer is reused for every read (`readinto`), so hashing a 4 GiB file
costs a megabyte of memory and no allocation per chunk; the loop runs at
the speed of `hashlib` itself. Large files are hashed by one thread per CPU
(`hash_all`): `hashlib` and the reads release the GIL, so two cores hash two
files at once, while each file's digest stays its plain sha256. Small files
are hashed on one thread, where the GIL is the bound (`Lane`).
"""

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass
from io import BufferedIOBase
from typing import Any, BinaryIO, Generic, TypeVar, overload

from attest.errors import os_error_line
from signing.errors import BundleError
from signing.files import PathLike, open_regular_file
from signing.progress import Progress

_CHUNK_BYTES = 1024 * 1024

Item = TypeVar("Item")
Result = TypeVar("Result")
State = TypeVar("State")


@dataclass(frozen=True, slots=True)
class FileDigest:
    """The sha256 (hex) and size in bytes of a file's content."""

    sha256: str
    size: int


def digest_stream(stream: BufferedIOBase) -> FileDigest:
    """Hash `stream` from its current position to its end."""
    return _digest(stream.readinto, memoryview(bytearray(_CHUNK_BYTES)), None, None)


def digest_descriptor(descriptor: int, lane: "Lane[Any]", progress: Progress | None = None) -> FileDigest:
    """Hash an open file descriptor to its end, reading into the hashing thread's buffer.

    A bare descriptor, not a file object: for a bundle of small files, the
    buffered reader and a fresh buffer per file cost more than the hashing.
    A file that fills the buffer tells the lane it is large (`Lane.hashing_large_file`).
    """
    return _digest(lambda view: os.readv(descriptor, (view,)), lane._buffer, progress, lane.hashing_large_file)


def _digest(
    readinto: Callable[[memoryview], int | None],
    buffer: memoryview,
    progress: Progress | None,
    on_full_buffer: Callable[[], None] | None,
) -> FileDigest:
    """The one hashing loop; tells `progress` of each full buffer, and of the file once done."""
    hasher = hashlib.sha256()
    size = reported = 0
    while count := readinto(buffer):
        hasher.update(buffer[:count])
        size += count
        if count == len(buffer):
            if on_full_buffer is not None:
                on_full_buffer()
            if progress is not None:
                progress.advance(0, count)
                reported = size
    if progress is not None:
        progress.advance(1, size - reported)
    return FileDigest(sha256=hasher.hexdigest(), size=size)


def hashing_threads() -> int:
    """How many threads hash at once: one per CPU this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Lane(Generic[State]):
    """What one hashing thread owns: a buffer reused for every read, its `state`, and a way to call in the helpers.

    Only large files are worth a second thread. For small files the work is
    Python's, under the GIL (open, fstat, a read, a close: each a system call
    that hands the GIL over), and two threads passing it back and forth at
    every call were slower than one: 20,000 files of 1-8 KiB took 550 ms on
    two threads against 390 ms on one (measured, 2 cores). A large file is
    `hashlib` with the GIL released, and a second thread doubles the speed.
    """

    def __init__(self, team: "_Team[State]", state: AbstractContextManager[State]) -> None:
        self._buffer = memoryview(bytearray(_CHUNK_BYTES))
        self._large = False  # whether the file in hand filled the buffer
        self._team = team
        self._at_end = ExitStack()
        self.state = self._at_end.enter_context(state)
        """What `hash_all`'s `lane_state` made for this lane alone (a bundle's directories), as the lane was made."""

    def hashing_large_file(self) -> None:
        """The file in hand is large: call a helper in, once per file."""
        if not self._large:
            self._large = True
            self._team.large_file_started()

    def _large_file_done(self) -> None:
        """The large file in hand is hashed, or failed: it no longer calls a helper in."""
        self._large = False
        self._team.large_file_done()

    def _end(self) -> None:
        """Exit the lane's state; on the lane's own thread, as its last act (`hash_all` says why)."""
        self._at_end.close()


class _Team(Generic[State]):
    """The caller's thread, and helpers called in only while a thread hashes a large file.

    Helpers are started at the first large file, not before: a bundle of
    small files is hashed on the caller's thread alone, with no thread made.
    Each large file in hand lets one helper take items, so one helper hashes
    the small files beside it (its `hashlib` leaves the GIL free) and the
    large files it meets call the next helpers in. Once no thread hashes a
    large file, helpers finish the item they hold and wait: small files are
    never hashed by two threads but for that item, and large files between
    small ones, as sorted paths often have them (a library, then its
    licence), are still hashed two at a time.
    """

    def __init__(
        self, helpers: int, work: Callable[[Lane[State]], None], lane_state: Callable[[], AbstractContextManager[State]]
    ) -> None:
        self._changed = threading.Condition()
        self._large_files = 0  # large files being hashed now
        self._working = 0  # helpers holding an item: at most one for each large file being hashed
        self._helpers = helpers
        self._work = work
        self._lane_state = lane_state
        self._threads: list[threading.Thread] = []
        self.stopped = False

    def lane(self) -> Lane[State]:
        """A new lane, its state made on this thread."""
        return Lane(self, self._lane_state())

    def large_file_started(self) -> None:
        with self._changed:
            self._large_files += 1
            if not self._threads:  # no helper yet, so this is the caller's thread: the helpers' lanes are made on it
                for _ in range(self._helpers):
                    self._start(self.lane())  # may fail (no thread or descriptor left): raised as the item's error
            self._changed.notify_all()

    def _start(self, lane: Lane[State]) -> None:
        thread = threading.Thread(target=self._work, args=(lane,), daemon=True)
        try:
            thread.start()  # a failure is raised here, not by `join`
        except BaseException:
            lane._end()  # no thread of its own to end it
            raise
        self._threads.append(thread)

    def large_file_done(self) -> None:
        with self._changed:
            self._large_files -= 1

    def take_turn(self) -> bool:
        """Wait until a large file being hashed calls one more helper in, and answer it; False once the work is over."""
        with self._changed:
            self._changed.wait_for(lambda: self.stopped or self._working < self._large_files)
            if self.stopped:
                return False
            self._working += 1
            return True

    def end_turn(self) -> None:
        """The helper's item is done: it takes another only if a large file still calls it in."""
        with self._changed:
            self._working -= 1

    def stop(self) -> None:
        """End the work: helpers take no more items, and those waiting return."""
        with self._changed:
            self.stopped = True
            self._changed.notify_all()

    def join(self) -> None:
        """Wait for the helpers to finish the items they hold."""
        for thread in self._threads:
            thread.join()


@overload
def hash_all(
    items: Sequence[Item], hash_one: Callable[[Item, Lane[None]], Result], *, threads: int | None = None
) -> list[Result]: ...


@overload
def hash_all(
    items: Sequence[Item],
    hash_one: Callable[[Item, Lane[State]], Result],
    *,
    threads: int | None = None,
    lane_state: Callable[[], AbstractContextManager[State]],
) -> list[Result]: ...


def hash_all(
    items: Sequence[Item],
    hash_one: Callable[[Item, Lane[Any]], Result],
    *,
    threads: int | None = None,
    lane_state: Callable[[], AbstractContextManager[Any]] = nullcontext,
) -> list[Result]:
    """`hash_one(item, lane)` for every item, on up to `threads` threads (default: one per CPU), in item order.

    The caller's thread hashes; helpers join while a thread hashes a large file (`_Team`).
    Threads take the next item as they finish one, so one large file does
    not hold up the small ones behind it. If items fail, the exception of the
    first failing item in order is raised, so the error does not depend on
    timing: items are taken in order, and a thread finishes the item it
    holds before stopping. Ctrl-C in the calling thread is raised at once:
    the helpers are daemon threads, left to finish the file they hold (or to
    end with the process), not waited for.

    What a thread needs of its own (a bundle's directories) is `lane_state()`,
    entered as its lane is made, which is on the calling thread, inside this
    call, and exited by the lane's own thread once it takes no more items
    (`lane.state`). Made on the calling thread: a helper that copied the
    root's descriptor at its first item could do so after Ctrl-C had
    returned and the root was closed, and copy whatever then had its number.
    Exited on its own thread: closing a helper's descriptors from the
    caller, after Ctrl-C, raised "Bad file descriptor" in place of the
    interrupt.
    """
    results: list[Result | None] = [None] * len(items)
    failures: dict[int, BaseException] = {}
    pending = iter(range(len(items)))  # shared: each next() is atomic under the GIL

    def hash_next(lane: Lane[Any], caller: bool) -> bool:
        """Hash the next item; False when there is none or an item failed."""
        if team.stopped or (index := next(pending, None)) is None:
            return False
        try:
            results[index] = hash_one(items[index], lane)
        except BaseException as err:  # re-raised below, in the caller's thread
            team.stop()
            if caller and not isinstance(err, Exception):
                raise  # Ctrl-C: now, not after the helpers' files and not instead of an earlier item's error
            failures[index] = err
            return False
        finally:
            if lane._large:  # tested here: a call for every small file cost 0.2% of hashing them
                lane._large_file_done()
        return True

    def help_out(lane: Lane[Any]) -> None:
        try:
            while team.take_turn():
                more = hash_next(lane, caller=False)
                team.end_turn()
                if not more:
                    return
        finally:
            lane._end()

    count = min(threads or hashing_threads(), len(items))
    team = _Team(max(count - 1, 0), help_out, lane_state)
    callers_lane = team.lane()
    try:
        while hash_next(callers_lane, caller=True):
            pass
    except BaseException:
        team.stop()
        raise
    finally:
        callers_lane._end()
    team.stop()
    team.join()
    if failures:
        raise failures[min(failures)]
    return results  # type: ignore[return-value]  # every item has its result once no item failed


class DigestingReader:
    """A read-only stream that hashes every byte read through it.

    Verifying a file's signature reads it once; wrapping the stream yields
    its sha256 from that same read, instead of reading the file twice.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._hasher = hashlib.sha256()
        self._size = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._stream.read(size)
        self._hasher.update(data)
        self._size += len(data)
        return data

    def digest(self) -> FileDigest:
        """The digest of everything read so far."""
        return FileDigest(sha256=self._hasher.hexdigest(), size=self._size)


def file_digest(path: PathLike, *, follow_symlinks: bool = False) -> FileDigest:
    """The sha256 and size of one regular file, refusing special files and, unless followed, links.

    The open descriptor is typed and hashed, so the bytes hashed are those of
    the file that was checked, whatever replaces its path meanwhile. Files
    inside a bundle are never followed; files the user names (a binary to
    record, a script) may be links.
    """
    try:
        with open_regular_file(path, follow_symlinks=follow_symlinks) as stream:
            return digest_stream(stream)
    except FileNotFoundError:
        raise BundleError(f"{path}: missing") from None
    except OSError as err:
        raise BundleError(os_error_line(path, err)) from None
