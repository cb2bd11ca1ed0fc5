"""Streaming sha256 of a file, in constant memory.

One buffer is reused for every read (`readinto`), so hashing a 4 GiB file
costs a megabyte of memory and no allocation per chunk; the loop runs at
the speed of `hashlib` itself.
"""

import hashlib
from dataclasses import dataclass
from io import BufferedIOBase
from typing import BinaryIO

from attest.errors import os_error_line
from signing.errors import BundleError
from signing.files import PathLike, open_regular_file

_CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class FileDigest:
    """The sha256 (hex) and size in bytes of a file's content."""

    sha256: str
    size: int


def digest_stream(stream: BufferedIOBase) -> FileDigest:
    """Hash `stream` from its current position to its end."""
    hasher = hashlib.sha256()
    buffer = bytearray(_CHUNK_BYTES)
    view = memoryview(buffer)
    size = 0
    while count := stream.readinto(view):
        hasher.update(view[:count])
        size += count
    return FileDigest(sha256=hasher.hexdigest(), size=size)


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
