"""Verify and sign 20,000 files of 1-8 KiB against a plain `os.walk` + `hashlib` loop over the same files.

Targets (issue 13): verify at most 2x the loop, sign at most 2.5x.

Run: .venv/bin/python benchmarks/bundles/small_files.py [--runs 7] [--files 20000] [--out FILE]
"""

import argparse
import tempfile
from pathlib import Path

import harness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="packseal-small-bench-") as directory:
        work = Path(directory)
        bundle = harness.write_random_tree(work / "bundle", arguments.files, 1024, 8192)
        secret, public = harness.minisign_keys(work / "keys")
        floor = ("os.walk + hashlib", harness.baseline("hashlib_walk.py", str(bundle)))
        files = f"{arguments.files:,} files of 1-8 KiB"
        sign = ("packseal sign", harness.packseal_sign(bundle, secret))
        verify = ("packseal verify-bundle", harness.packseal_verify(bundle, public))
        runs = arguments.runs
        rows = [
            harness.interleaved(f"sign {files}", sign, floor, runs),
            harness.interleaved(f"verify {files}", verify, floor, runs),
        ]
    table = harness.report("Small files", rows, arguments.runs, ["targets: sign at most 2.5x, verify at most 2x"])
    print(table, end="")
    if arguments.out:
        arguments.out.write_text(table)


if __name__ == "__main__":
    main()
