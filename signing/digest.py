"""Streaming sha256 of files, in constant memory, on every core.

One buffer is reused for every read (`readinto`), so hashing a 4 GiB file
costs a megabyte of memory and no allocation per chunk; the loop runs at
the speed of `hashlib` itself. Many files are hashed by one thread per CPU
(`hash_all`): `hashlib` and the reads release the GIL, so two cores hash two
files at once, while each file's digest stays its plain sha256.
"""

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from io import BufferedIOBase
from typing import BinaryIO, TypeVar

from attest.errors import os_error_line
from signing.errors import BundleError
from signing.files import PathLike, open_regular_file
from signing.progress import Progress

_CHUNK_BYTES = 1024 * 1024

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(frozen=True, slots=True)
class FileDigest:
    """The sha256 (hex) and size in bytes of a file's content."""

    sha256: str
    size: int


def digest_stream(stream: BufferedIOBase) -> FileDigest:
    """Hash `stream` from its current position to its end."""
    return _digest(stream.readinto, memoryview(bytearray(_CHUNK_BYTES)), None)


def digest_descriptor(descriptor: int, buffer: memoryview, progress: Progress | None = None) -> FileDigest:
    """Hash an open file descriptor to its end, reading into `buffer` (one per thread, reused).

    A bare descriptor, not a file object: for a bundle of small files, the
    buffered reader and a fresh buffer per file cost more than the hashing.
    """
    return _digest(lambda view: os.readv(descriptor, (view,)), buffer, progress)


def _digest(readinto: Callable[[memoryview], int | None], buffer: memoryview, progress: Progress | None) -> FileDigest:
    """The one hashing loop; tells `progress` of each full buffer, and of the file once done."""
    hasher = hashlib.sha256()
    size = reported = 0
    while count := readinto(buffer):
        hasher.update(buffer[:count])
        size += count
        if progress is not None and count == len(buffer):
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


def hash_all(
    items: Sequence[Item], hash_one: Callable[[Item, memoryview], Result], *, threads: int | None = None
) -> list[Result]:
    """`hash_one(item, buffer)` for every item, on `threads` threads (default: one per CPU), in item order.

    Threads take the next item as they finish one, so one large file does not
    hold up the small ones behind it. Each thread reuses one buffer. If items
    fail, the exception of the first failing item in order is raised, so the
    error does not depend on timing: items are taken in order, and a thread
    finishes the item it holds before stopping. Ctrl-C in the calling thread
    is raised at once: the helpers are daemon threads, left to finish the
    file they hold (or to end with the process), not waited for.
    """
    results: list[Result | None] = [None] * len(items)
    failures: dict[int, BaseException] = {}
    pending = iter(range(len(items)))  # shared: each next() is atomic under the GIL
    stop = threading.Event()

    def work(caller: bool = False) -> None:
        buffer = memoryview(bytearray(_CHUNK_BYTES))
        while not stop.is_set() and (index := next(pending, None)) is not None:
            try:
                results[index] = hash_one(items[index], buffer)
            except BaseException as err:  # re-raised below, in the caller's thread
                stop.set()
                if caller and not isinstance(err, Exception):
                    raise  # Ctrl-C: now, not after the helpers' files and not instead of an earlier item's error
                failures[index] = err

    count = min(threads or hashing_threads(), len(items))
    helpers = [threading.Thread(target=work, daemon=True) for _ in range(count - 1)]
    for helper in helpers:
        helper.start()
    try:
        work(caller=True)
    except BaseException:
        stop.set()
        raise
    stop.set()
    for helper in helpers:
        helper.join()
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
