"""Put staged entries into place in an install directory all at once, and finish or undo a landing that was cut short.

An install lands more than one entry: the bundle (a directory, or a file
with its signature files beside it) and its install record. Each entry is
moved by a rename, which the kernel makes atomic; where the filesystem
supports it, an entry that replaces one is swapped with it in one step
(`renameat2(RENAME_EXCHANGE)`), so the installed path never stops holding
either the old or the new entry. Elsewhere the old entry is first moved
aside into the staging directory, then the new one renamed in.

Before the first move, the landing writes a journal into its staging
directory naming each entry and the inode of its new version. If the
process dies mid-landing, `recover` reads the journal and decides from what
is on disk: when the primary entry (the bundle, moved last) already is the
new one, the landing is finished; otherwise every entry already moved is
put back. Either way the staging directory, holding whatever was replaced
or left over, is then removed. Recovery itself may be cut short and run
again: each of its steps is decided anew from the disk.

Power loss is covered the usual way: everything staged is written to disk
(`syncfs`) before the journal, the journal is fsynced before the first
move, and the directories the entries moved into are fsynced after the
last, so a landing that returned survives a power cut, and one cut short
by it is finished or undone from a journal that names written files.
"""

import contextlib
import ctypes
import errno
import functools
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attest.errors import ManifestError, os_error_line
from attest.manifest import check_path
from signing.errors import OutputError
from signing.files import fsync_directory

JOURNAL_NAME = "landing.json"
_OLD_DIR = "old"
_DISCARD_DIR = "discard"
_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP}
"""What renameat2 answers on a kernel or filesystem without the flag asked for."""


@dataclass(frozen=True)
class Move:
    """One entry to land: `staged` (in the staging directory) goes to `name` (in the install directory).

    `staged` None removes the entry at `name` (a signature file the new
    version lacks); the removed entry is kept in the staging directory until
    the landing is complete.
    """

    staged: str | None
    name: str


def land(staging: Path, dest: Path, moves: Sequence[Move]) -> None:
    """Move every entry into `dest`, the last of `moves` last; then remove `staging` with what was replaced.

    The last move is the primary one: once it is done, the landing counts
    as complete, and `recover` finishes any other move left undone.
    """
    items = [_Item(index, move, _inode(staging, move)) for index, move in enumerate(moves)]
    try:
        _write_staged(staging)
        _write_journal(staging, [item.to_json() for item in items])
        (staging / _OLD_DIR).mkdir()
        for item in items:
            _land_item(staging, dest, item)
        _sync_parents(staging, dest, items)
    except OSError as err:
        recover(staging, dest)
        raise OutputError(os_error_line(dest, err, "install into")) from None
    _remove_tree(staging)


def recover(staging: Path, dest: Path) -> None:
    """Finish or undo the landing a staging directory holds, then remove it; without a journal, only remove it.

    A staging directory without a journal never began landing: what it holds
    was being copied or verified, and nothing in `dest` was touched.
    """
    items = _read_journal(staging)
    if items:
        if _landed(dest, items[-1]):
            for item in items:
                if not _landed(dest, item):
                    _land_item(staging, dest, item)
        else:
            (staging / _DISCARD_DIR).mkdir(exist_ok=True)
            for item in reversed(items):
                _undo_item(staging, dest, item)
        _sync_parents(staging, dest, items)
    _remove_tree(staging)


@dataclass(frozen=True)
class _Item:
    index: int
    move: Move
    inode: int | None
    """The inode of the new entry, which no rename changes: how recovery tells new from old."""

    def to_json(self) -> dict[str, Any]:
        return {"staged": self.move.staged, "name": self.move.name, "inode": self.inode}

    @classmethod
    def from_json(cls, index: int, value: Any) -> "_Item":
        if not isinstance(value, dict) or set(value) != {"staged", "name", "inode"}:
            raise ValueError("malformed landing journal entry")
        staged, name, inode = value["staged"], value["name"], value["inode"]
        if not (inode is None or (isinstance(inode, int) and not isinstance(inode, bool))):
            raise ValueError(f"inode {inode!r} is not a number")
        for path in (name,) if staged is None else (staged, name):
            _check_relative(path)
        return cls(index, Move(staged, name), inode)


def _check_relative(path: Any) -> None:
    """Refuse a journal path that could leave the staging or install directory: recovery moves what it names."""
    if not isinstance(path, str):
        raise ValueError(f"{path!r} is not a relative path")
    try:
        check_path(path)
    except ManifestError as err:
        raise ValueError(f"{path!r} is not a relative path below the staging or install directory: {err}") from None


def _inode(staging: Path, move: Move) -> int | None:
    return None if move.staged is None else (staging / move.staged).lstat().st_ino


def _land_item(staging: Path, dest: Path, item: _Item) -> None:
    """Move one entry in, keeping what it replaces in the staging directory (`old/<index>`, or swapped in place)."""
    target = dest / item.move.name
    old = staging / _OLD_DIR / str(item.index)
    if item.move.staged is None:
        if os.path.lexists(target):
            _rename(target, old)
        return
    new = staging / item.move.staged
    if os.path.lexists(target):
        if _exchange(new, target):
            return
        _rename(target, old)
    _rename_noreplace(new, target)


def _undo_item(staging: Path, dest: Path, item: _Item) -> None:
    """Put back what the entry replaced, if the new one is in place; else put back an old one moved aside."""
    target = dest / item.move.name
    old = staging / _OLD_DIR / str(item.index)
    new = None if item.move.staged is None else staging / item.move.staged
    previous = old if os.path.lexists(old) else None
    if previous is None and new is not None and os.path.lexists(new) and new.lstat().st_ino != item.inode:
        previous = new  # swapped by RENAME_EXCHANGE: the old entry sits where the new one was staged
    if _landed(dest, item) and item.move.staged is not None:
        if previous is not None and _exchange(previous, target):
            return
        _rename(target, staging / _DISCARD_DIR / str(item.index))
    if previous is not None and not os.path.lexists(target):
        _rename_noreplace(previous, target)


def _landed(dest: Path, item: _Item) -> bool:
    target = dest / item.move.name
    if item.inode is None:
        return not os.path.lexists(target)
    try:
        return target.lstat().st_ino == item.inode
    except FileNotFoundError:
        return False


def _write_staged(staging: Path) -> None:
    """Write everything staged to disk before the first entry moves: one `syncfs(2)` of the staging filesystem.

    A rename is durable before the data of the file it names: without this,
    a power cut after the landing could leave new names over unwritten
    content. One syncfs covers whatever staging holds however it was made
    (copied files, extracted archives, downloads, links, directories, the
    record), and costs little more than writing the data: on ext4, for
    20,000 files of 1-8 KiB, 0.28 s against 7.1 s for an fsync of each
    file, in an install of 5.7 s (2,000 files: 0.03 s against 0.54 s, of
    1.1 s; `benchmarks/bundles/install_durability.py`). The price: it also
    waits for other programs' unwritten data on that filesystem. Without
    syncfs in the C library, `os.sync()` does the same for every filesystem.
    """
    _sync_filesystem(staging)


def _sync_filesystem(directory: Path) -> None:
    """`syncfs(2)` of the filesystem `directory` is on, through a descriptor of it; `os.sync()` without syncfs."""
    syncfs = getattr(_libc(), "syncfs", None)
    if syncfs is None:
        os.sync()
        return
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if syncfs(descriptor) != 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error), str(directory))
    finally:
        os.close(descriptor)


def _sync_parents(staging: Path, dest: Path, items: list[_Item]) -> None:
    """Make the moves durable: fsync each directory an entry was renamed into or out of in `dest`.

    A directory this user can write and search but not read (an install
    directory of mode 0300 takes installs) cannot be opened to be fsynced:
    its filesystem, which is staging's as every entry moved by rename, is
    then synced whole instead (`syncfs`), which writes its renames too.
    An I/O error here is an `OutputError`, not an `OSError` for `land` to
    undo the landing on: the journal stays in staging, for the next
    install, or `read_installed`, to finish the landing (or undo it) again.
    """
    unreadable = False
    try:
        for directory in sorted({(dest / item.move.name).parent for item in items}):
            try:
                fsync_directory(directory)
            except PermissionError:
                unreadable = True
        if unreadable:
            _sync_filesystem(staging)
    except OSError as err:
        raise OutputError(os_error_line(dest, err, "sync")) from None


def _write_journal(staging: Path, items: list[dict[str, Any]]) -> None:
    """Write the journal whole and durable before any entry moves: a torn journal must never be read."""
    temporary = staging / f".{JOURNAL_NAME}.tmp"
    with open(temporary, "x", encoding="utf-8") as stream:
        json.dump({"items": items}, stream)
        stream.flush()
        os.fsync(stream.fileno())
    os.rename(temporary, staging / JOURNAL_NAME)
    fsync_directory(staging)


def _read_journal(staging: Path) -> list[_Item]:
    try:
        document = json.loads((staging / JOURNAL_NAME).read_text(encoding="utf-8"))
        return [_Item.from_json(index, value) for index, value in enumerate(document["items"])]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as err:
        journal = staging / JOURNAL_NAME
        raise OutputError(f"{journal}: unreadable landing journal ({err}); repair the install by hand") from None


def _rename(source: Path, target: Path) -> None:
    os.rename(source, target)


def _renameat2(source: Path, target: Path, flags: int) -> bool:
    """renameat2(2) with `flags`; False when this kernel, libc or filesystem lacks them."""
    function = getattr(_libc(), "renameat2", None)
    if function is None:
        return False
    result = function(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), flags)
    if result == 0:
        return True
    error = ctypes.get_errno()
    if error in _UNSUPPORTED:
        return False
    raise OSError(error, os.strerror(error), str(source), None, str(target))


def _exchange(first: Path, second: Path) -> bool:
    """Swap two entries in one step; False when the filesystem cannot, so the caller falls back to two renames."""
    return _renameat2(first, second, _RENAME_EXCHANGE)


def _rename_noreplace(source: Path, target: Path) -> None:
    """Rename, refusing to replace an entry at `target` (a plain rename would replace an empty directory)."""
    if _renameat2(source, target, _RENAME_NOREPLACE):
        return
    if os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target))
    os.rename(source, target)


def _remove_tree(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(path)


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)
