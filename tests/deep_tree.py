"""Directory chains deeper than PATH_MAX, made and removed without long paths or recursion.

`os.makedirs` and `shutil.rmtree` cannot do it: past about 2,000 levels of
`d/` the path is longer than PATH_MAX, and Python 3.11's `rmtree` recurses
once per level. Both helpers here only ever use short paths.
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


def remove_chain(top: Path) -> None:
    """Remove what `make_chain` made below `top`: walk down by `chdir`, then remove on the way up."""
    home = os.getcwd()
    os.chdir(top)
    try:
        depth = 0
        while os.path.isdir(LEVEL):
            os.chdir(LEVEL)
            depth += 1
        if os.path.exists("leaf"):
            os.unlink("leaf")
        for _ in range(depth):
            os.chdir("..")
            os.rmdir(LEVEL)
    finally:
        os.chdir(home)
