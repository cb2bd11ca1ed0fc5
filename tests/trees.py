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
    top = os.path.join(root, "")
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)  # strings, not `Path`s: a tree of 17,600 long paths took 2 s more
            info = os.lstat(path)
            mode = stat.S_IMODE(info.st_mode)
            rel = path.removeprefix(top)
            if stat.S_ISLNK(info.st_mode):
                entries[rel] = ("link", mode, os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                entries[rel] = ("dir", mode, None)
            elif stat.S_ISREG(info.st_mode):
                with open(path, "rb") as content:
                    entries[rel] = ("file", mode, content.read())
            else:
                entries[rel] = ("special", mode, stat.S_IFMT(info.st_mode))
    entries["."] = ("dir", stat.S_IMODE(root.lstat().st_mode), None)
    return entries


def tree_with_a_manifest_over_the_limit(root: Path) -> Path:
    """About 17,600 empty files whose paths are ~3,800 bytes long: a manifest just over the limit (64 MiB).

    The files are hard links to one empty file: a directory entry each, not
    an inode each, which on ext4 makes the tree in 0.4 s instead of 4 s or
    more. Nothing in a bundle's walk or manifest depends on the link count.
    """
    deep = root.joinpath(*(letter * 250 for letter in "abcdefghijklmn"))
    deep.mkdir(parents=True)
    entry_bytes = len(deep.relative_to(root).as_posix()) + 250 + 100
    names = [f"{index:05d}{'x' * 245}" for index in range(MAX_DOCUMENT_BYTES // entry_bytes + 100)]
    directory = os.open(deep, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.close(os.open(names[0], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=directory))
        for name in names[1:]:
            os.link(names[0], name, src_dir_fd=directory, dst_dir_fd=directory)
    finally:
        os.close(directory)
    return root
