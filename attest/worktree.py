"""Compare files on disk with a commit's tree, byte for byte, without running anything.

`git status` would run what the checkout's `.git` names (filter drivers,
`core.fsmonitor`, hooks) and rewrite `.git/index`. This comparison only
reads: a file matches its tree entry when its Git blob id (the
repository's hash over `blob <size>\\0` and the content) and its kind
(file, executable file, symlink and its target) are the entry's. No
filter, end-of-line conversion or LFS smudge is applied, so a file that
Git converted on checkout does not match: the bytes on disk must be the
bytes the commit holds.

The walk never follows a symbolic link and is iterative, so a deep or
looping tree on disk cannot exhaust the stack; special files are typed by
`lstat` and never opened.
"""

import hashlib
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from attest.errors import GitError, os_error_line

GITLINK_MODE = 0o160000
_LINK_MODE = 0o120000
_FILE_MODE = 0o100644
_EXECUTABLE_MODE = 0o100755
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Committed:
    """One entry of a commit's tree: its Git mode and the hex id of its blob (or commit, for a submodule)."""

    mode: int
    blob: str


@dataclass(frozen=True)
class Difference:
    """A path where the disk is not the commit, and how."""

    path: str
    why: str

    def __str__(self) -> str:
        return f"{self.path} ({self.why})"


class Ignores(Protocol):
    """Git's ignore rules for a worktree (`dulwich.ignore.IgnoreFilterManager` has this shape)."""

    def is_ignored(self, path: str) -> bool | None: ...

    def may_prune_directory(self, path: str) -> bool: ...


@dataclass(frozen=True)
class Region:
    """Which part of a worktree is compared, and by which rule.

    `start` is where the walk begins (`b""`: the whole worktree). Below
    `strict` every file must be in the commit, ignored or not: that is
    the bundle. Elsewhere a file the commit lacks is a difference unless
    `ignores` ignores it. `skipped` paths are not compared at all (the
    repository's `.git`, packseal's own signature files).
    """

    start: bytes
    skipped: Callable[[bytes], bool]
    strict: bytes | None = None
    ignores: Ignores | None = None

    def is_strict(self, path: bytes) -> bool:
        return self.strict is not None and _is_within(path, self.strict)


def differences(top: bytes, committed: Mapping[bytes, Committed], hash_name: str, region: Region) -> list[Difference]:
    """Every difference between the disk below `top/region.start` and `committed`, sorted by path.

    `committed` holds the tree entries below `region.start`, by path
    relative to `top`.
    """
    return _Comparison(top, committed, hash_name, region).run()


class _Comparison:
    def __init__(self, top: bytes, committed: Mapping[bytes, Committed], hash_name: str, region: Region) -> None:
        self._top = top
        self._committed = committed
        self._hash_name = hash_name
        self._region = region
        self._tracked_directories = {parent for path in committed for parent in _parents(path)}
        self._seen: set[bytes] = set()
        self._found: list[Difference] = []

    def run(self) -> list[Difference]:
        pending = [self._region.start]
        while pending:
            path = pending.pop()
            if not self._region.skipped(path):
                pending.extend(self._visit(path))
        for path in self._committed:
            if path not in self._seen and not self._region.skipped(path):
                self._report(path, "missing")
        return sorted(self._found, key=lambda difference: difference.path)

    def _visit(self, path: bytes) -> Iterator[bytes]:
        location = os.path.join(self._top, path) if path else self._top
        try:
            mode = os.lstat(location).st_mode
        except FileNotFoundError:
            return iter(())
        except OSError as err:
            raise GitError(os_error_line(_shown(location), err)) from None
        entry = self._committed.get(path)
        if entry is not None:
            self._seen.add(path)
        if stat.S_ISDIR(mode):
            return self._directory(path, location, entry)
        if entry is not None:
            why = self._mismatch(location, mode, entry)
            if why is not None:
                self._report(path, why)
        elif not self._is_ignored(path, directory=False):
            self._report(path, "not in the commit")
        return iter(())

    def _directory(self, path: bytes, location: bytes, entry: Committed | None) -> Iterator[bytes]:
        if entry is not None and entry.mode == GITLINK_MODE and not self._region.is_strict(path):
            return iter(())  # a submodule outside the bundle: its own checkout, not compared
        if entry is not None:
            self._report(path, f"directory on disk, {_committed_kind(entry.mode)} in the commit")
            if entry.mode == GITLINK_MODE:
                return iter(())
        if path not in self._tracked_directories and self._is_ignored(path, directory=True):
            return iter(())
        try:
            names = sorted(os.listdir(location), reverse=True)
        except OSError as err:
            raise GitError(os_error_line(_shown(location), err)) from None
        return (os.path.join(path, name) if path else name for name in names)

    def _is_ignored(self, path: bytes, *, directory: bool) -> bool:
        ignores = self._region.ignores
        if ignores is None or self._region.is_strict(path):
            return False
        name = os.fsdecode(path)
        if directory:
            return ignores.may_prune_directory(name + "/")
        return bool(ignores.is_ignored(name))

    def _mismatch(self, location: bytes, mode: int, entry: Committed) -> str | None:
        if stat.S_ISLNK(mode) and entry.mode == _LINK_MODE:
            target = os.readlink(location)
            return None if self._blob_id(len(target), [target]) == entry.blob else "symlink target differs"
        if stat.S_ISREG(mode) and entry.mode in (_FILE_MODE, _EXECUTABLE_MODE):
            blob, executable = self._read(location)
            if blob != entry.blob:
                return "content differs"
            return None if executable == (entry.mode == _EXECUTABLE_MODE) else "executable bit differs"
        return f"{_disk_kind(mode)} on disk, {_committed_kind(entry.mode)} in the commit"

    def _read(self, location: bytes) -> tuple[str, bool]:
        """The blob id and executable bit of a regular file, from one open descriptor."""
        try:
            descriptor = os.open(location, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
            with os.fdopen(descriptor, "rb") as stream:
                info = os.fstat(stream.fileno())
                if not stat.S_ISREG(info.st_mode):
                    raise GitError(f"{_shown(location)}: changed while it was being read")
                chunks = iter(lambda: stream.read(_CHUNK), b"")
                return self._blob_id(info.st_size, chunks), bool(info.st_mode & 0o111)
        except OSError as err:
            raise GitError(os_error_line(_shown(location), err)) from None

    def _blob_id(self, size: int, chunks: Iterable[bytes]) -> str:
        digest = hashlib.new(self._hash_name, b"blob %d\0" % size)
        read = 0
        for chunk in chunks:
            read += len(chunk)
            digest.update(chunk)
        if read != size:
            raise GitError(f"a file changed size while it was being read ({size} bytes, then {read})")
        return digest.hexdigest()

    def _report(self, path: bytes, why: str) -> None:
        self._found.append(Difference(_shown(path), why))


def _is_within(path: bytes, directory: bytes) -> bool:
    return not directory or path == directory or path.startswith(directory + b"/")


def _parents(path: bytes) -> Iterator[bytes]:
    """Every directory above `path` in the tree, from the top: `a/b/c` gives ``, `a`, `a/b`."""
    parts = path.split(b"/")
    for count in range(len(parts)):
        yield b"/".join(parts[:count])


def _shown(path: bytes) -> str:
    """A path for a message: undecodable bytes escaped, never a surrogate."""
    return path.decode("utf-8", "backslashreplace")


def _committed_kind(mode: int) -> str:
    kinds = {_FILE_MODE: "file", _EXECUTABLE_MODE: "executable file", _LINK_MODE: "symlink", GITLINK_MODE: "submodule"}
    return kinds.get(mode, f"mode {mode:o}")


def _disk_kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "executable file" if mode & 0o111 else "file"
    kinds = {stat.S_ISLNK: "symlink", stat.S_ISFIFO: "FIFO", stat.S_ISSOCK: "socket"}
    return next((name for test, name in kinds.items() if test(mode)), "special file")
