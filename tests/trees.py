"""Trees on disk for tests: a snapshot showing a refused command changed nothing, and a bundle too large to sign."""

import os
import stat
from pathlib import Path
from typing import Any

from attest.canonical import MAX_DOCUMENT_BYTES

Snapshot = dict[str, tuple[str, int, Any]]


def snapshot(root: Path) -> Snapshot:
    """Every path under root -> (type, mode, bytes or link target).

    Symlinks are never followed and special files are not opened, so taking
    a snapshot of a bundle with a FIFO in it does not block.
    """
    entries: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            info = path.lstat()
            mode = stat.S_IMODE(info.st_mode)
            rel = path.relative_to(root).as_posix()
            if stat.S_ISLNK(info.st_mode):
                entries[rel] = ("link", mode, os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                entries[rel] = ("dir", mode, None)
            elif stat.S_ISREG(info.st_mode):
                entries[rel] = ("file", mode, path.read_bytes())
            else:
                entries[rel] = ("special", mode, stat.S_IFMT(info.st_mode))
    entries["."] = ("dir", stat.S_IMODE(root.lstat().st_mode), None)
    return entries


def tree_with_a_manifest_over_the_limit(root: Path) -> Path:
    """About 17,600 empty files whose paths are ~3,800 bytes long: a manifest just over the limit (64 MiB)."""
    deep = root.joinpath(*(letter * 250 for letter in "abcdefghijklmn"))
    deep.mkdir(parents=True)
    entry_bytes = len(deep.relative_to(root).as_posix()) + 250 + 100
    for index in range(MAX_DOCUMENT_BYTES // entry_bytes + 100):
        (deep / f"{index:05d}{'x' * 245}").touch()
    return root
