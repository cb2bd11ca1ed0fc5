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
from collections.abc import Iterator
from operator import attrgetter
from pathlib import Path

from attest.errors import ManifestError, os_error_line
from attest.manifest import SIGNATURE_DIR, Entry, FileEntry, Manifest, SymlinkEntry, check_link_target
from signing.digest import digest_descriptor, hash_all
from signing.errors import BundleError
from signing.files import PathLike, file_kind, open_regular_descriptor
from signing.progress import Progress


def directory_manifest(root: PathLike, *, progress: Progress | None = None) -> Manifest:
    """The manifest of every file and link below `root`, except `root/.packseal/`.

    Files are hashed on every CPU; `progress` is told of each file (and of
    each megabyte of a large one) as it is hashed, from the hashing threads.
    The manifest is the same whatever the number of threads.
    """
    return checked_manifest(root, bundle_entries(root, progress=progress))


def checked_manifest(root: PathLike, entries: list[Entry]) -> Manifest:
    """The manifest of `bundle_entries(root)`; a rule they break is refused, naming the bundle."""
    try:
        return Manifest(tuple(entries))
    except ManifestError as err:
        raise BundleError(f"{root}: {err}") from None


def bundle_entries(root: PathLike, *, progress: Progress | None = None, threads: int | None = None) -> list[Entry]:
    """The entries of `directory_manifest`, sorted by path, before the manifest's rules are checked.

    For a verifier that compares them with a signed manifest, whose names
    passed those rules: entries equal to its own pass them too, so checking
    them again would only cost time. Whoever keeps entries that differ must
    build the `Manifest`, which refuses what breaks a rule. `threads`
    defaults to one per CPU; the entries do not depend on it.
    """
    root = Path(root)
    if not root.is_dir():
        raise BundleError(f"{root}: not a directory")
    walk = _Walk(root)
    links: list[Entry] = []
    files: list[str] = []  # manifest paths only: the entries keep the same strings, and a location is rebuilt
    for location, path, is_link in walk.listing():
        if is_link:
            links.append(walk.symlink(location, path))
        else:
            files.append(path)
    top = os.path.join(root, "")
    hashed = hash_all(files, lambda path, buffer: _hash_file(top + path, path, buffer, progress), threads=threads)
    return sorted(links + hashed, key=attrgetter("path"))  # code point order: UTF-8 byte order


def _hash_file(location: str, path: str, buffer: memoryview, progress: Progress | None) -> Entry:
    """Open without following a link, refuse anything but a regular file, and hash what was opened.

    The open descriptor is typed and hashed, so a file swapped for a link or
    a FIFO after the listing is refused, not read.
    """
    try:
        descriptor, status = open_regular_descriptor(location)
        try:
            digest = digest_descriptor(descriptor, buffer, progress)
        finally:
            os.close(descriptor)
    except OSError as err:
        raise BundleError(os_error_line(location, err)) from None
    return FileEntry(path=path, sha256=digest.sha256, size=digest.size, executable=bool(status.st_mode & 0o111))


class _Walk:
    """One walk of one bundle, depth first.

    An explicit stack of directory listings, not recursion: how deep a bundle
    nests is its author's choice, and a recursive walk died with
    `RecursionError` at about 500 levels.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._real_root = os.path.realpath(root)

    def listing(self) -> Iterator[tuple[str, str, bool]]:
        """Every file and link below the root as (location, manifest path, is a link), in pre-order.

        The type comes from the directory listing (`d_type`, or `lstat` where
        the file system gives none), without a system call per file; what is
        listed as a file is typed again on its open descriptor.
        """
        listings = [self._children(str(self._root), "")]
        while listings:
            child = next(listings[-1], None)
            if child is None:
                listings.pop()
                continue
            entry, path = child
            try:
                if entry.is_dir(follow_symlinks=False):
                    listings.append(self._children(entry.path, path + "/"))
                elif entry.is_symlink() or entry.is_file(follow_symlinks=False):
                    yield entry.path, path, entry.is_symlink()
                else:
                    kind = file_kind(entry.stat(follow_symlinks=False).st_mode)
                    raise BundleError(f"{entry.path}: {kind} cannot be part of a bundle")
            except OSError as err:
                raise BundleError(os_error_line(entry.path, err)) from None

    def _children(self, directory: str, prefix: str) -> Iterator[tuple[os.DirEntry[str], str]]:
        """Each child and its manifest path; `.packseal` is skipped at the root only."""
        try:
            with os.scandir(directory) as listing:
                children = sorted(listing, key=lambda child: child.name)
        except OSError as err:
            raise BundleError(os_error_line(directory, err)) from None
        for child in children:
            if not prefix and child.name == SIGNATURE_DIR:
                continue
            yield child, self._manifest_path(prefix + child.name)

    def _manifest_path(self, path: str) -> str:
        """A path as the manifest records it: its spelling on disk, which must be UTF-8."""
        try:
            path.encode("utf-8")
        except UnicodeEncodeError:
            raise BundleError(f"{str(self._root / path)!a}: file name is not valid UTF-8") from None
        return path

    def symlink(self, location: str, path: str) -> SymlinkEntry:
        """A link as the manifest records it; refused if it resolves outside the bundle or into its signatures."""
        try:
            target = os.readlink(location)
        except OSError as err:
            raise BundleError(os_error_line(location, err)) from None
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


def _is_within(path: str, directory: str) -> bool:
    return os.path.commonpath([path, directory]) == directory
