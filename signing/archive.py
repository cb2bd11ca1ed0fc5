"""Extract a `.tar.gz`, `.tgz` or `.zip` bundle into staging, refusing what could escape it or exhaust the machine.

An archive is the author's input and is read as hostile: every member's
name, type and size is checked before anything is written, and nothing is
ever written through a link. Refused: absolute names, `..`, a name below a
file or link, duplicate names, hard links, devices, FIFOs and any other
special member, symbolic links whose target leaves the bundle (lexically
while extracting, and by `realpath` once all links exist), encrypted zip
members, zip members compressed other than stored or deflate, and GNU
sparse tar members (both of which `tarfile`/`zipfile` would inflate or
read whole into memory). An archive holds exactly one top-level directory, the bundle,
which is installed under that name; anything beside it is refused.

Resources are bounded by `ArchiveLimits`, counted on the bytes actually
produced, never on sizes an archive declares (a zip's central directory,
a tar header): total bytes, member count, and the ratio of extracted bytes
to the archive's size. Extraction streams one chunk at a time (`tarfile`'s
stream mode, over a gzip reader that inflates no more than is asked for; a
zip member read as it inflates), and a tar's long-name and
pax headers, which `tarfile` reads whole into memory, are refused above
64 KiB, so memory stays bounded whatever the archive holds. A zip's
central directory, which `zipfile` parses whole before any member is
seen, has its records counted against the member limit first.
"""

import io
import os
import posixpath
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO, NoReturn, TypeVar

from attest.errors import os_error_line
from attest.manifest import SIGNATURE_DIR
from signing.errors import ArchiveError, BundleError
from signing.files import open_regular_file
from signing.staging import Tally, write_new_file

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip")
T = TypeVar("T")
_MAX_HEADER_BYTES = 64 * 1024
_MAX_LINK_TARGET_BYTES = 4096
_COMPRESSED_CHUNK_BYTES = 64 * 1024
_RATIO_ALLOWANCE = 1024 * 1024
"""Bytes any archive may expand to whatever its ratio: a tiny archive of small text files compresses well."""


@dataclass(frozen=True)
class ArchiveLimits:
    """Caps on what an archive may expand to, and a local directory or file may copy; the first passed refuses it.

    `install` stages every local source under them (`signing.sources.stage`):
    bytes and files bound a directory's or a single file's copy as they
    bound an extraction, so a huge or sparse file never fills the install
    directory's filesystem before verification would refuse it. The ratio
    is an archive's alone: a plain copy expands nothing. The defaults suit
    a plugin or content pack; raise them for a larger bundle
    (`packseal install --max-bytes/--max-files/--max-ratio`).
    """

    max_bytes: int = 1024**3
    """Total bytes of the files extracted or copied: 1 GiB."""
    max_files: int = 10_000
    """Members, or entries copied (files, links, directories): 10,000."""
    max_ratio: int = 100
    """Archives only: bytes extracted per byte of archive, beyond the first MiB: 100, where zip and gzip bombs
    reach 1,000 and more."""

    def __post_init__(self) -> None:
        if min(self.max_bytes, self.max_files, self.max_ratio) < 1:
            raise ValueError("archive limits must be positive")


def is_archive(path: Path) -> bool:
    """Whether `path` is named as an archive that install extracts (`.tar.gz`, `.tgz`, `.zip`)."""
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def extract_archive(archive: Path, into: Path, limits: ArchiveLimits = ArchiveLimits()) -> tuple[str, Tally]:
    """Extract `archive` into the existing empty directory `into`; the bundle's name and what it holds.

    Raises `ArchiveError` naming the archive and the member at fault; what
    was extracted before is left in `into` for the caller to remove.
    """
    try:
        with open_regular_file(archive, follow_symlinks=True) as stream:
            size = os.fstat(stream.fileno()).st_size
            extraction = _Extraction(archive, into, limits, size)
            if archive.name.lower().endswith(".zip"):
                _extract_zip(stream, extraction)
            else:
                _extract_tar(stream, extraction)
    except _HeaderRefused as err:
        extraction.refuse(err.name, err.why)
    except FileNotFoundError:
        raise BundleError(f"{archive}: missing") from None
    except (
        tarfile.TarError,
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        NotImplementedError,
        RuntimeError,
        UnicodeDecodeError,  # a zip member's name flagged UTF-8 that is not
    ) as err:
        raise ArchiveError(f"{archive}: not a readable archive ({err})") from None
    except OSError as err:
        raise BundleError(os_error_line(archive, err)) from None
    return extraction.finish()


class _HeaderRefused(Exception):
    """A tar header refused while `tarfile` reads it, before any member is seen: `extract_archive` names the archive."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(name, why)
        self.name, self.why = name, why


class _BoundedTarInfo(tarfile.TarInfo):
    """A tar header that refuses what `tarfile` would read whole into memory, before it reads it.

    `tarfile` reads a long-name or pax header's data in one piece (Python
    3.11's `TarInfo._proc_member` dispatches them), so a 1 GiB pax header
    would cost 1 GiB: refused above 64 KiB. It reads a GNU sparse member's
    map (from extension blocks, or from the member's data in pax format
    1.0) into a list with no bound, so a few KiB of gzip declaring a million
    entries cost 200 MiB: sparse members are refused outright, in each of
    the three places `tarfile` would read a map. Sparseness is nothing a
    manifest records.
    """

    def _proc_member(self, archive: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _HEADER_TYPES and self.size > _MAX_HEADER_BYTES:
            why = f"a {self.size} byte extended header is over the {_MAX_HEADER_BYTES} byte limit"
            raise _HeaderRefused(self.name, why)
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise _HeaderRefused(self.name, "GNU sparse member")
        member: tarfile.TarInfo = getattr(super(), "_proc_member")(archive)  # noqa: B009 (private in typeshed)
        return member

    def _proc_gnusparse_00(self, member: tarfile.TarInfo, *_: Any) -> NoReturn:
        raise _HeaderRefused(member.name, "GNU sparse member")

    _proc_gnusparse_01 = _proc_gnusparse_10 = _proc_gnusparse_00


_HEADER_TYPES = frozenset(
    {tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE}
)


class _Gunzip(io.RawIOBase):
    """A gzip stream read as its decompressed bytes, never more at once than asked for.

    `tarfile`'s own "r|gz" inflates each 10 KiB record it reads whole, which
    is 10 MiB of output at once from a stream of zeros; this reader asks zlib
    for at most the caller's buffer size (`max_length`).
    """

    def __init__(self, compressed: BinaryIO) -> None:
        self._compressed = compressed
        self._decompressor = zlib.decompressobj(wbits=31)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while not self._decompressor.eof:
            data = self._decompressor.unconsumed_tail or self._compressed.read(_COMPRESSED_CHUNK_BYTES)
            if not data:
                raise EOFError("compressed data ends before the end of its gzip stream")
            output = self._decompressor.decompress(data, len(view))
            if output:
                view[: len(output)] = output
                return len(output)
        return 0


def _extract_tar(stream: BinaryIO, extraction: "_Extraction") -> None:
    decompressed = io.BufferedReader(_Gunzip(stream))
    with tarfile.open(fileobj=decompressed, mode="r|", tarinfo=_BoundedTarInfo) as archive:
        for member in _members(archive):
            name = member.name + ("/" if member.isdir() else "")
            if member.isdir():
                extraction.directory(name)
            elif member.issym():
                extraction.link(name, member.linkname)
            elif member.type in (tarfile.REGTYPE, tarfile.AREGTYPE):
                content = archive.extractfile(member)
                assert content is not None
                extraction.file(name, content, executable=bool(member.mode & 0o111))
            else:
                extraction.refuse(name, _tar_kind(member))


def _members(archive: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    """Each member once, not kept: `TarFile` would otherwise hold every header read in memory."""
    while (member := archive.next()) is not None:
        vars(archive)["members"].clear()  # not in typeshed's TarFile
        yield member


def _tar_kind(member: tarfile.TarInfo) -> str:
    if member.islnk():
        return "hard link"
    if member.ischr() or member.isblk():
        return "device"
    if member.isfifo():
        return "FIFO"
    return f"member of tar type {member.type!r}"


_ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}
"""The zip compression methods `zipfile` reads in bounded memory: for bzip2 and LZMA it inflates each read's
whole input at once, so a 540-byte member could cost 1 GiB before a single byte was counted."""


_CENTRAL_RECORD = struct.Struct("<4s4B4HL2L5H2L")
"""A central directory record's fixed part, 46 bytes (APPNOTE 4.3.12); its name, extra field and comment follow."""
_CENTRAL_SIGNATURE = b"PK\x01\x02"
_ZIP64_END_SIGNATURE = b"PK\x06\x06"
_ZIP64_END_BYTES = 56 + 20
"""The ZIP64 end record and its locator, which lie between the central directory and the end record."""


def _extract_zip(stream: BinaryIO, extraction: "_Extraction") -> None:
    records = _central_directory_records(stream, extraction.limits.max_files)
    extraction.listed(records)
    with zipfile.ZipFile(stream) as archive:
        members = archive.infolist()
        if len(members) != records:
            raise zipfile.BadZipFile(f"central directory read as {len(members)} records, counted as {records}")
        for info in members:
            mode = info.external_attr >> 16
            if info.compress_type not in _ZIP_METHODS:
                extraction.refuse(info.filename, f"compressed with method {info.compress_type}, not stored or deflate")
            if info.flag_bits & 0x1:
                extraction.refuse(info.filename, "encrypted member")
            elif info.is_dir() or stat.S_ISDIR(mode):
                extraction.directory(info.filename)
            elif stat.S_ISLNK(mode):
                with archive.open(info) as content:
                    target = content.read(_MAX_LINK_TARGET_BYTES + 1)
                if len(target) > _MAX_LINK_TARGET_BYTES:
                    extraction.refuse(info.filename, "link with an over-long target")
                extraction.link(info.filename, os.fsdecode(target))
            elif stat.S_IFMT(mode) in (0, stat.S_IFREG):
                with archive.open(info) as content:
                    extraction.file(info.filename, content, executable=bool(mode & 0o111))
            else:
                extraction.refuse(info.filename, "special file")


def _central_directory_records(stream: BinaryIO, limit: int) -> int:
    """The records `ZipFile` will parse from the central directory, counted in constant memory and up to `limit` + 1.

    `ZipFile` parses every record into a `ZipInfo` before a member can be
    counted, about 9 times the record's size: an 11 MiB zip of 200,000
    empty records cost 97 MiB (2 million, 958 MiB) before `--max-files`
    refused it. This walks the directory as Python 3.11's
    `ZipFile._RealGetContents` does, reading each record's fixed 46 bytes
    and seeking past its name, extra field and comment: from the same end
    record, at the same offset `concat` for bytes prepended to the archive
    (a self-extracting stub), while `total < size`, with the same record
    lengths. The entry counts the end record declares are ignored, as
    `zipfile` ignores them: they may lie. Raises `zipfile.BadZipFile` for
    a directory `ZipFile` could not walk either.

    The end record is found by `zipfile`'s private `_EndRecData`, the very
    function `_RealGetContents` calls: it searches back past an archive
    comment and follows a ZIP64 locator, and a copy would drift from what
    `ZipFile` reads (CPython changed its ZIP64 checks in 2025, gh-139700).
    `_extract_zip` refuses the archive if the counts ever differ.

    The directory ends where the end records begin (`start + size` is their
    position), so the `size` bytes `ZipFile` then reads in one piece are
    bounded by the archive's size, which `--max-size` bounds for a download.
    """
    try:
        end_record = getattr(zipfile, "_EndRecData")(stream)  # noqa: B009 (private, not in typeshed)
    except OSError:  # a seek before the start, for the ZIP64 end record a locator promises: as `_RealGetContents`
        end_record = None
    if not end_record:
        raise zipfile.BadZipFile("no end of central directory record")
    signature, size, offset, location = end_record[0], end_record[5], end_record[6], end_record[9]
    concat = location - size - offset - (_ZIP64_END_BYTES if signature == _ZIP64_END_SIGNATURE else 0)
    start = offset + concat
    if start < 0:
        raise zipfile.BadZipFile("central directory larger than the archive before it")
    records = total = 0
    while total < size and records <= limit:
        stream.seek(start + total)
        fields = stream.read(_CENTRAL_RECORD.size)
        if len(fields) < _CENTRAL_RECORD.size or total + _CENTRAL_RECORD.size > size:
            raise zipfile.BadZipFile(f"central directory truncated in record {records + 1}")
        record = _CENTRAL_RECORD.unpack(fields)
        if record[0] != _CENTRAL_SIGNATURE:
            raise zipfile.BadZipFile(f"central directory record {records + 1} has no record signature")
        total += _CENTRAL_RECORD.size + record[12] + record[13] + record[14]
        records += 1
    return records


class _Extraction:
    """Writes members below `into`, checking each name, type and the running totals against the limits."""

    def __init__(self, archive: Path, into: Path, limits: ArchiveLimits, archive_size: int) -> None:
        self.archive = archive
        self.into = into
        self.limits = limits
        self.allowed_bytes = min(limits.max_bytes, max(limits.max_ratio * archive_size, _RATIO_ALLOWANCE))
        self.kinds: dict[str, str] = {}
        self.links: list[str] = []
        self.bundle: str | None = None
        self.tally = Tally()
        self.written = 0

    def refuse(self, name: str, why: str) -> NoReturn:
        raise ArchiveError(f"{self.archive}: {name!r}: {why}; refused")

    def listed(self, members: int) -> None:
        """Refuse an archive whose index lists more members than the limit, before any is read."""
        if members > self.limits.max_files:
            raise ArchiveError(f"{self.archive}: central directory lists {self._too_many}; refused")

    def directory(self, name: str) -> None:
        path = self._path(name)
        if path is None or self.kinds.get(path) == "directory":
            return
        self._claim(name, path, "directory")
        self._create(path, lambda target: target.mkdir(mode=0o755))

    def file(self, name: str, content: IO[bytes], *, executable: bool) -> None:
        path = self._required_path(name)
        self._claim(name, path, "file")
        size = self._create(
            path, lambda target: write_new_file(target, content, executable=executable, counted=self._count)
        )
        if path.split("/")[1] != SIGNATURE_DIR:
            self.tally = self.tally.add(size)

    def link(self, name: str, target: str) -> None:
        path = self._required_path(name)
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
        if not target or target.startswith("/") or "\0" in target or resolved.split("/")[0] != self.bundle:
            self.refuse(name, f"symlink to {target!r} leaves the bundle")
        self._claim(name, path, "link")
        self._create(path, lambda location: os.symlink(target, location))
        self.links.append(path)

    def finish(self) -> tuple[str, Tally]:
        """The bundle's name, once every link is proven to resolve inside it on disk."""
        if self.bundle is None:
            raise ArchiveError(f"{self.archive}: empty archive; it must hold one directory, the bundle")
        root = os.path.realpath(self.into / self.bundle)
        for path in self.links:
            resolved = os.path.realpath(self.into / path)
            if os.path.commonpath([resolved, root]) != root:
                self.refuse(path, "symlink resolves outside the bundle")
        return self.bundle, self.tally

    def _path(self, name: str) -> str | None:
        """The member's path below `into`, checked; None for the archive's root (`./`)."""
        parts = name.removesuffix("/").split("/")
        while parts and parts[0] == "." and len(parts) > 1:
            parts.pop(0)
        if parts == ["."]:
            return None
        if name.startswith("/") or any(part in ("", ".", "..") for part in parts) or "\0" in name:
            self.refuse(name, "absolute path, '..', or an empty or '.' component")
        if self.bundle is None:
            self.bundle = parts[0]
        elif parts[0] != self.bundle:
            self.refuse(name, f"beside the bundle {self.bundle!r}; an archive holds one directory, the bundle")
        return "/".join(parts)

    def _required_path(self, name: str) -> str:
        path = self._path(name)
        if path is None or "/" not in path:
            self.refuse(name, "not inside a directory; an archive holds one directory, the bundle")
        return path

    def _claim(self, name: str, path: str, kind: str) -> None:
        """Record the member; its parents must be directories of the archive (made here if it did not list them)."""
        if len(self.kinds) >= self.limits.max_files:
            self.refuse(name, self._too_many)
        if path in self.kinds:
            self.refuse(name, "appears twice")
        parents = path.split("/")[:-1]
        for depth in range(1, len(parents) + 1):
            parent = "/".join(parents[:depth])
            present = self.kinds.get(parent)
            if present is None:
                self.kinds[parent] = "directory"
                self._create(parent, lambda target: target.mkdir(mode=0o755))
            elif present != "directory":
                self.refuse(name, f"below a {present}, {parent!r}")
        self.kinds[path] = kind

    @property
    def _too_many(self) -> str:
        return f"more than {self.limits.max_files} members (--max-files)"

    def _create(self, path: str, make: Callable[[Path], T]) -> T:
        target = self.into / path
        try:
            return make(target)
        except FileExistsError:
            self.refuse(path, "appears twice")
            raise
        except OSError as err:
            raise BundleError(os_error_line(target, err, "write")) from None

    def _count(self, size: int) -> None:
        self.written += size
        if self.written > self.allowed_bytes:
            limit = "--max-bytes" if self.allowed_bytes == self.limits.max_bytes else "--max-ratio"
            raise ArchiveError(
                f"{self.archive}: expands beyond {self.allowed_bytes} bytes ({limit}); refused as a possible bomb"
            )
