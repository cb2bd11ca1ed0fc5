"""Reduce a bundle on disk to its `Manifest`, refusing what cannot be installed safely.

The walk never follows a symbolic link: a link is recorded with its target,
and refused if it resolves outside the bundle (lexically or on disk) or into
`.packseal/`. Files are opened with `O_NOFOLLOW` and typed by `fstat` on the
open descriptor, so a file swapped for a link or a FIFO mid-walk is refused,
not read. Names are recorded in NFC; two names equal after NFC are refused
here, and the `Manifest` refuses names equal after case-folding.
"""

import os
import stat
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from attest.errors import ManifestError, os_error_line
from attest.manifest import SIGNATURE_DIR, Entry, FileEntry, Manifest, SymlinkEntry, check_link_target
from signing.digest import digest_stream
from signing.errors import BundleError
from signing.files import PathLike, file_kind, open_regular_file


def directory_manifest(root: PathLike) -> Manifest:
    """The manifest of every file and link below `root`, except `root/.packseal/`."""
    root = Path(root)
    if not root.is_dir():
        raise BundleError(f"{root}: not a directory")
    walk = _Walk(root)
    entries = list(walk.entries(root, ""))
    try:
        return Manifest.from_entries(entries)
    except ManifestError as err:
        raise BundleError(f"{root}: {err}") from None


class _Walk:
    """One walk of one bundle: remembers NFC names seen, to refuse collisions."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._real_root = os.path.realpath(root)
        self._raw_name_of: dict[str, str] = {}

    def entries(self, directory: Path, prefix: str) -> Iterator[Entry]:
        try:
            children = sorted(os.scandir(directory), key=lambda child: child.name)
        except OSError as err:
            raise BundleError(os_error_line(directory, err)) from None
        for child in children:
            if not prefix and child.name == SIGNATURE_DIR:
                continue
            path = self._manifest_path(prefix + child.name)
            yield from self._entries_of(Path(child.path), path)

    def _entries_of(self, location: Path, path: str) -> Iterator[Entry]:
        try:
            mode = location.lstat().st_mode
            if stat.S_ISLNK(mode):
                yield self._symlink(location, path)
            elif stat.S_ISDIR(mode):
                yield from self.entries(location, path + "/")
            elif stat.S_ISREG(mode):
                yield self._file(location, path)
            else:
                raise BundleError(f"{location}: {file_kind(mode)} cannot be part of a bundle")
        except OSError as err:
            raise BundleError(os_error_line(location, err)) from None

    def _manifest_path(self, raw: str) -> str:
        try:
            raw.encode("utf-8")
        except UnicodeEncodeError:
            raise BundleError(f"{str(self._root / raw)!a}: file name is not valid UTF-8") from None
        path = unicodedata.normalize("NFC", raw)
        other = self._raw_name_of.setdefault(path, raw)
        if other != raw:
            raise BundleError(
                f"{self._root}: {raw!a} and {other!a} are the same name after NFC normalisation, {path!r}"
            )
        return path

    def _symlink(self, location: Path, path: str) -> SymlinkEntry:
        target = os.readlink(location)
        try:
            check_link_target(path, target)
        except ManifestError as err:
            raise BundleError(f"{self._root}: {err}") from None
        resolved = os.path.realpath(location)
        if not _is_within(resolved, self._real_root):
            raise BundleError(f"{location}: symlink resolves outside the bundle, to {resolved}")
        if _is_within(resolved, os.path.join(self._real_root, SIGNATURE_DIR)):
            raise BundleError(f"{location}: symlink resolves into {SIGNATURE_DIR}/")
        return SymlinkEntry(path=path, target=target)

    def _file(self, location: Path, path: str) -> FileEntry:
        with open_regular_file(location) as stream:
            executable = bool(os.fstat(stream.fileno()).st_mode & 0o111)
            digest = digest_stream(stream)
        return FileEntry(path=path, sha256=digest.sha256, size=digest.size, executable=executable)


def _is_within(path: str, directory: str) -> bool:
    return os.path.commonpath([path, directory]) == directory
