"""Shared by the start-up benchmarks: the bundle benchmarks' harness, and packseal's bytecode compiled once.

Interpreter start-up is mostly reading modules; a process that may not write
bytecode (`PYTHONDONTWRITEBYTECODE`, set on some CI machines) would compile
packseal's sources on every run and measure the compiler, so they are
compiled once, as an installed wheel's are.
"""

import compileall
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks" / "bundles"))

import harness  # noqa: E402 - found through the path above

__all__ = ["ROOT", "compile_packseal", "harness"]


def compile_packseal() -> None:
    for package in ("signing", "attest"):
        compileall.compile_dir(ROOT / package, quiet=1)
