"""Reduce a bundle on disk to its `Manifest`, refusing what cannot be installed safely.

The walk never follows a symbolic link: a link is recorded with its target,
and refused if it resolves outside the bundle (lexically or on disk) or into
`.packseal/`. Files are opened with `O_NOFOLLOW` and typed by `fstat` on the
open descriptor, so a file swapped for a link or a FIFO mid-walk is refused,
not read. Names are recorded exactly as they are on disk, so the names an
installer finds are byte for byte the names that were signed; the
`Manifest` then refuses a name that is not NFC (its NFC twin would look the
same and be another file) and names equal after case-folding.
"""

import os
import stat
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
    entries = list(_Walk(root).entries())
    try:
        return Manifest.from_entries(entries)
    except ManifestError as err:
        raise BundleError(f"{root}: {err}") from None


class _Walk:
    """One walk of one bundle, depth first.

    An explicit stack of directory listings, not recursion: how deep a bundle
    nests is its author's choice, and a recursive walk died with
    `RecursionError` at about 500 levels.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._real_root = os.path.realpath(root)

    def entries(self) -> Iterator[Entry]:
        """Every file and link below the root, in pre-order, each directory's children sorted by name."""
        listings = [self._children(self._root, "")]
        while listings:
            child = next(listings[-1], None)
            if child is None:
                listings.pop()
                continue
            location, path = child
            try:
                mode = location.lstat().st_mode
            except OSError as err:
                raise BundleError(os_error_line(location, err)) from None
            if stat.S_ISDIR(mode):
                listings.append(self._children(location, path + "/"))
            else:
                yield self._entry(location, path, mode)

    def _children(self, directory: Path, prefix: str) -> Iterator[tuple[Path, str]]:
        """Each child's location on disk and manifest path; `.packseal` is skipped at the root only."""
        try:
            children = sorted(os.scandir(directory), key=lambda child: child.name)
        except OSError as err:
            raise BundleError(os_error_line(directory, err)) from None
        for child in children:
            if not prefix and child.name == SIGNATURE_DIR:
                continue
            yield Path(child.path), self._manifest_path(prefix + child.name)

    def _entry(self, location: Path, path: str, mode: int) -> Entry:
        try:
            if stat.S_ISLNK(mode):
                return self._symlink(location, path)
            if stat.S_ISREG(mode):
                return self._file(location, path)
        except OSError as err:
            raise BundleError(os_error_line(location, err)) from None
        raise BundleError(f"{location}: {file_kind(mode)} cannot be part of a bundle")

    def _manifest_path(self, path: str) -> str:
        """A path as the manifest records it: its spelling on disk, which must be UTF-8."""
        try:
            path.encode("utf-8")
        except UnicodeEncodeError:
            raise BundleError(f"{str(self._root / path)!a}: file name is not valid UTF-8") from None
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
