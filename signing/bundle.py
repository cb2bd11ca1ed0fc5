"""Reduce a bundle on disk to its `Manifest`, refusing what cannot be installed safely.

The walk never follows a symbolic link: a link is recorded with its target,
and refused if it resolves outside the bundle (lexically or on disk) or into
`.packseal/`. Every directory below the root is opened by name in its open
parent with `O_NOFOLLOW`, and every file likewise in its open directory,
typed by `fstat` on the descriptor: a path is never resolved through a link,
so a file swapped for a link or a FIFO mid-walk, or a directory swapped for
a link to elsewhere, is refused, not read. Names are recorded exactly as they are on disk, so the names an
installer finds are byte for byte the names that were signed; the
`Manifest` then refuses a name that is not NFC (its NFC twin would look the
same and be another file) and names equal after case-folding.
"""

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import closing
from operator import attrgetter
from pathlib import Path

from attest.errors import ManifestError, os_error_line
from attest.manifest import SIGNATURE_DIR, Entry, FileEntry, Manifest, SymlinkEntry, check_link_target
from signing.digest import Lane, digest_descriptor, hash_all
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
    try:
        root_descriptor = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as err:
        raise BundleError(os_error_line(root, err)) from None
    top = os.path.join(root, "")

    def directories() -> closing[_Directories]:
        """Each hashing thread's own directories, made while the root is open (`hash_all` says why)."""
        return closing(_Directories(root_descriptor, top))

    def hash_file(path: str, lane: Lane[_Directories]) -> Entry:
        return _hash_file(top + path, path, lane, progress)

    walk = None
    try:
        walk = _Walk(root, _Directories(root_descriptor, top))
        links: list[Entry] = []
        files: list[str] = []  # manifest paths only: the entries keep the same strings, and a location is rebuilt
        for path, is_link in walk.listing():
            if is_link:
                links.append(walk.symlink(path))
            else:
                files.append(path)
        hashed = hash_all(files, hash_file, threads=threads, lane_state=directories)
    finally:
        if walk is not None:
            walk.directories.close()
        os.close(root_descriptor)
    return sorted(links + hashed, key=attrgetter("path"))  # code point order: UTF-8 byte order


def _hash_file(location: str, path: str, lane: "Lane[_Directories]", progress: Progress | None) -> Entry:
    """Open without following a link, refuse anything but a regular file, and hash what was opened.

    The file is opened in its directory's descriptor and the descriptor is
    typed and hashed, so a file swapped for a link or a FIFO after the
    listing, or a parent directory swapped for a link, is refused, not read.
    """
    parent, _, name = path.rpartition("/")
    try:
        descriptor, status = open_regular_descriptor(name, dir_fd=lane.state.open(parent), shown=location)
        try:
            digest = digest_descriptor(descriptor, lane, progress)
        finally:
            os.close(descriptor)
    except OSError as err:
        raise BundleError(os_error_line(location, err)) from None
    return FileEntry(path=path, sha256=digest.sha256, size=digest.size, executable=bool(status.st_mode & 0o111))


class _Directories:
    """Directories below an open root, each opened by name in its open parent with `O_NOFOLLOW`.

    No path is resolved by the kernel from the root down, so no link is
    followed on the way, whatever is swapped in after the listing. The chain
    to the last directory opened stays open (files come in path order, so
    mostly one open per directory, and a directory below the one open now
    is opened from it); beyond `_KEPT` levels only the deepest stays open,
    so a deeply nested bundle does not run out of descriptors.
    """

    _KEPT = 64
    _FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

    def __init__(self, root: int, top: str) -> None:
        try:
            self._root = os.dup(root)  # its own, closed with it: no thread closes a descriptor another still uses
        except OSError as err:  # EMFILE: refused as the open of any directory below is, not a traceback
            raise BundleError(os_error_line(top, err)) from None
        self._top = top
        self._directory = ""  # the directory last opened, as a manifest path
        self._names: list[str] = []  # the same, by name from the root
        self._kept: list[int] = []  # descriptors of its first levels, up to _KEPT
        self._deepest: int | None = None  # its own descriptor, when deeper than _KEPT

    def open(self, directory: str) -> int:
        """A descriptor of `directory` (a manifest path, "" for the root); valid until the next call."""
        if directory == self._directory:  # the common case: the file beside the last one
            return self._current()
        names = directory.split("/") if directory else []
        common = 0
        while common < min(len(names), len(self._names)) and names[common] == self._names[common]:
            common += 1
        if common < len(self._names):  # not below the directory open now: back to the deepest level still open
            self._close_from(min(common, len(self._kept)))
            common = len(self._names)
        descriptor = self._current()
        for depth in range(common, len(names)):
            try:
                child = os.open(names[depth], self._FLAGS, dir_fd=descriptor)
            except OSError as err:
                location = self._top + "/".join(names[: depth + 1])
                problem = _not_a_directory(names[depth], descriptor) if err.errno in _NOT_A_DIRECTORY else None
                self._close_from(len(self._kept))
                raise BundleError(f"{location}: {problem}" if problem else os_error_line(location, err)) from None
            if depth < self._KEPT:
                self._kept.append(child)
            else:
                if self._deepest is not None:
                    os.close(self._deepest)
                self._deepest = child
            self._names = names[: depth + 1]
            descriptor = child
        self._directory = directory
        return descriptor

    def _current(self) -> int:
        if self._deepest is not None:
            return self._deepest
        return self._kept[-1] if self._kept else self._root

    def _close_from(self, depth: int) -> None:
        """Close the descriptors below the first `depth` levels."""
        if self._deepest is not None:
            os.close(self._deepest)
            self._deepest = None
        for descriptor in self._kept[depth:]:
            os.close(descriptor)
        del self._kept[depth:]
        del self._names[depth:]
        self._directory = "/".join(self._names)

    def close(self) -> None:
        self._close_from(0)
        os.close(self._root)


_NOT_A_DIRECTORY = (errno.ELOOP, errno.ENOTDIR)
"""What opening a link (or a file) with `O_DIRECTORY | O_NOFOLLOW` fails with: Linux says ENOTDIR, BSDs ELOOP."""


def _not_a_directory(name: str, directory: int) -> str | None:
    """What replaced a listed directory, in words, or None if it cannot be told (then the open's error says)."""
    try:
        mode = os.stat(name, dir_fd=directory, follow_symlinks=False).st_mode
    except OSError:
        return None
    return f"{'regular file' if stat.S_ISREG(mode) else file_kind(mode)}, not a directory"


_PATH_MAX = 4096
"""Linux's `PATH_MAX`: a path this long fails in every tool that opens it by path, so no bundle holds one.

The walk itself opens directories through their parents' descriptors and
could go deeper; an installer or a loader could not.
"""


class _Walk:
    """One walk of one bundle, depth first.

    An explicit stack of directory listings, not recursion: how deep a bundle
    nests is its author's choice, and a recursive walk died with
    `RecursionError` at about 500 levels.
    """

    def __init__(self, root: Path, directories: _Directories) -> None:
        self._root = root
        self._real_root = os.path.realpath(root)
        self._top = os.path.join(root, "")
        self.directories = directories

    def listing(self) -> Iterator[tuple[str, bool]]:
        """Every file and link below the root as (manifest path, is a link), in pre-order.

        The type comes from the directory listing (`d_type`, or `lstat` where
        the file system gives none), without a system call per file; what is
        listed as a file is typed again on its open descriptor.
        """
        listings = [self._children("")]
        while listings:
            child = next(listings[-1], None)
            if child is None:
                listings.pop()
                continue
            entry, path = child
            if len(os.fsencode(self._top + path)) >= _PATH_MAX:
                raise BundleError(
                    f"{self._top + path[:64]}...: File name too long: a path of {_PATH_MAX} bytes or more "
                    "cannot be installed or loaded by its path"
                )
            try:
                if entry.is_dir(follow_symlinks=False):
                    listings.append(self._children(path))
                elif entry.is_symlink() or entry.is_file(follow_symlinks=False):
                    yield path, entry.is_symlink()
                else:
                    kind = file_kind(entry.stat(follow_symlinks=False).st_mode)
                    raise BundleError(f"{self._top + path}: {kind} cannot be part of a bundle")
            except OSError as err:
                raise BundleError(os_error_line(self._top + path, err)) from None

    def _children(self, directory: str) -> Iterator[tuple[os.DirEntry[str], str]]:
        """Each child and its manifest path; `.packseal` is skipped at the root only.

        The directory is listed through its descriptor (`_Directories`), never by its path.
        """
        prefix = directory + "/" if directory else ""
        try:
            with os.scandir(self.directories.open(directory)) as listing:
                children = sorted(listing, key=lambda child: child.name)
        except OSError as err:
            raise BundleError(os_error_line(self._top + directory, err)) from None
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

    def symlink(self, path: str) -> SymlinkEntry:
        """A link as the manifest records it; refused if it resolves outside the bundle or into its signatures."""
        location = self._top + path
        parent, _, name = path.rpartition("/")
        try:
            target = os.readlink(name, dir_fd=self.directories.open(parent))
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
