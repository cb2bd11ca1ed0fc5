"""What a durable install costs: one syncfs of the staged tree against an fsync of each file, beside the install.

Install writes everything staged to disk before its landing renames
(`signing.landing._write_staged`, one `syncfs`). This measures, in process
and interleaved, for a tree of small files copied as install stages it
(`signing.staging.copy_tree`, on the same filesystem):

- `install`: a whole `signing.install` of the tree into a new directory;
- `syncfs`: the flush install does, right after a fresh copy;
- `fsync each file`: the alternative, an fsync of every copied file.

The page cache is flushed (`os.sync`) before each step, so that each
flush writes only the copy just made. Times are I/O, not CPU: they move with
whatever else writes to the disk, so read medians and the spread.

Run: .venv/bin/python benchmarks/bundles/install_durability.py [--runs 7] [--files 2000 20000]
"""

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import harness
import minisign

from signing.backends.minisign import MinisignKeyring
from signing.installer import install
from signing.landing import _write_staged
from signing.policy import TrustPolicy
from signing.sign import sign_with_minisign
from signing.staging import copy_tree


def fsync_each_file(root: Path) -> None:
    for directory, _, files in os.walk(root):
        for name in files:
            descriptor = os.open(os.path.join(directory, name), os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)


def measure(files: int, runs: int, work: Path) -> str:
    source = harness.write_random_tree(work / "source" / "pack", files, 1024, 8192)
    key_pair = minisign.KeyPair.generate()
    sign_with_minisign(source, key_pair.secret_key)
    policy = TrustPolicy((MinisignKeyring([key_pair.public_key]),))

    def installed(target: Path) -> float:
        target.mkdir()
        started = time.perf_counter()
        install(source, target, policy)
        return time.perf_counter() - started

    def flushed(flush: Callable[[Path], None]) -> Callable[[Path], float]:
        def run(target: Path) -> float:
            copy_tree(source, target)
            started = time.perf_counter()
            flush(target)
            return time.perf_counter() - started

        return run

    steps = {
        "install": installed,
        "syncfs (as install does)": flushed(_write_staged),
        "fsync each file": flushed(fsync_each_file),
    }
    times: dict[str, list[float]] = {label: [] for label in steps}
    for run in range(runs + 1):  # run 0 is the warm-up
        for label, step in steps.items():
            target = work / f"target-{run}"
            os.sync()
            seconds = step(target)
            shutil.rmtree(target)
            if run:
                times[label].append(seconds)
    shutil.rmtree(source.parent)
    return "\n".join(
        f"| {files:,} files of 1-8 KiB | {label} | {statistics.median(spent):.3f} s | "
        f"{min(spent):.3f}-{max(spent):.3f} s |"
        for label, spent in times.items()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--files", type=int, nargs="+", default=[2_000, 20_000])
    arguments = parser.parse_args()
    print(f"{harness.machine()}; medians of {arguments.runs} interleaved runs\n")
    print("| tree | step | median | range |\n| --- | --- | ---: | ---: |")
    for files in arguments.files:
        with tempfile.TemporaryDirectory(prefix="packseal-durability-bench-") as directory:
            print(measure(files, arguments.runs, Path(directory)), flush=True)


if __name__ == "__main__":
    main()
