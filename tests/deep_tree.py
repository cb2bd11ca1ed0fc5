"""Deep directory trees, made and removed without recursion or long paths.

`os.makedirs` and `shutil.rmtree` cannot do it: in Python 3.11 both recurse
once per level, and past about 2,000 levels of `d/` a path is longer than
PATH_MAX. The helpers here only ever use one name at a time.
"""

from __future__ import annotations

import os
from pathlib import Path

LEVEL = "d"


def make_chain(top: Path, depth: int, *, leaf_file: bytes | None = None) -> None:
    """`top/d/d/…/d`, `depth` directories below `top`, optionally with a file `leaf` at the bottom."""
    top.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir(LEVEL, dir_fd=descriptor)
            below = os.open(LEVEL, os.O_RDONLY | os.O_DIRECTORY, dir_fd=descriptor)
            os.close(descriptor)
            descriptor = below
        if leaf_file is not None:
            leaf = os.open("leaf", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=descriptor)
            os.write(leaf, leaf_file)
            os.close(leaf)
    finally:
        os.close(descriptor)


def remove_tree(top: Path | str) -> None:
    """Remove `top` and everything below it, however deep: `chdir` down one level at a time, remove on the way up.

    Only names relative to the working directory are used, so no path grows
    with the depth; links are removed, never followed.
    """
    home = os.getcwd()
    os.chdir(top)
    below: list[str] = []
    try:
        while True:
            subdirectory = None
            with os.scandir(".") as children:
                for child in children:
                    if child.is_dir(follow_symlinks=False):
                        subdirectory = child.name
                    else:
                        os.unlink(child.name)
            if subdirectory is not None:
                os.chdir(subdirectory)
                below.append(subdirectory)
            elif below:
                os.chdir("..")
                os.rmdir(below.pop())
            else:
                break
    finally:
        os.chdir(home)
    os.rmdir(top)
