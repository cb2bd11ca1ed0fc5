"""Verify and sign 1 GiB (4 files of 256 MiB) against `hashlib` on 2 threads over the same files.

Target (issue 13): at most 1.15x, both cores busy, memory flat (under 64 MiB
RSS whatever the size).

Run: .venv/bin/python benchmarks/bundles/large_files.py [--runs 7] [--mib 256] [--out FILE]
"""

import argparse
import os
import tempfile
from pathlib import Path

import harness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--mib", type=int, default=256, help="size of each of the 4 files")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="packseal-large-bench-") as directory:
        work = Path(directory)
        bundle = work / "bundle"
        bundle.mkdir()
        for index in range(4):
            with open(bundle / f"part-{index}.bin", "wb") as stream:
                for _ in range(arguments.mib):
                    stream.write(os.urandom(1024 * 1024))
        secret, public = harness.minisign_keys(work / "keys")
        floor = ("hashlib, 2 threads", harness.baseline("hashlib_threads.py", str(bundle)))
        total = f"{4 * arguments.mib / 1024:g} GiB (4 x {arguments.mib} MiB)"
        sign = ("packseal sign", harness.packseal_sign(bundle, secret))
        verify = ("packseal verify-bundle", harness.packseal_verify(bundle, public))
        runs = arguments.runs
        rows = [
            harness.interleaved(f"sign {total}", sign, floor, runs),
            harness.interleaved(f"verify {total}", verify, floor, runs),
        ]
    table = harness.report("Large files", rows, arguments.runs, ["target: at most 1.15x, under 64 MiB"])
    print(table, end="")
    if arguments.out:
        arguments.out.write_text(table)


if __name__ == "__main__":
    main()
