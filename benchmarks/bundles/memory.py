"""Peak memory of `packseal verify-bundle` (and `sign`) as the file count grows: 50,000 and 200,000 files.

Target (issue 13): at most 1 KiB per file above a fixed base, and a straight
line up to 200,000 files (no bend). The base is the same command on a
one-file bundle. Files are small (1-1024 bytes): hashing reuses one buffer
per thread, so memory grows with the count of files, not their size.

Run: .venv/bin/python benchmarks/bundles/memory.py [--runs 3] [--counts 50000,100000,200000] [--out FILE]
"""

import argparse
import statistics
import tempfile
from pathlib import Path

import harness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--counts", default="50000,100000,200000")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    arguments = parser.parse_args()
    counts = [int(count) for count in arguments.counts.split(",")]
    lines = [
        "## Memory",
        "",
        f"{harness.machine()}; peak RSS, median of {arguments.runs} runs.",
        "",
        "| files | sign peak | verify peak | verify above base | per file | verify wall |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    with tempfile.TemporaryDirectory(prefix="packseal-memory-bench-") as directory:
        work = Path(directory)
        secret, public = harness.minisign_keys(work / "keys")
        base = None
        for count in [1, *counts]:
            bundle = harness.write_random_tree(work / f"bundle-{count}", count, 1, 1024)
            sign = [harness.run_once(harness.packseal_sign(bundle, secret)) for _ in range(arguments.runs)]
            verify = [harness.run_once(harness.packseal_verify(bundle, public)) for _ in range(arguments.runs)]
            sign_peak = statistics.median(run.peak_mib for run in sign)
            verify_peak = statistics.median(run.peak_mib for run in verify)
            wall = statistics.median(run.wall for run in verify)
            if base is None:
                base = verify_peak
                lines.append(f"| 1 (base) | {sign_peak:.1f} MiB | {verify_peak:.1f} MiB | | | {wall:.2f} s |")
                continue
            above = verify_peak - base
            lines.append(
                f"| {count:,} | {sign_peak:.1f} MiB | {verify_peak:.1f} MiB | {above:.1f} MiB | "
                f"{above * 1024 / count:.2f} KiB | {wall:.2f} s |"
            )
            harness.remove_tree(bundle)
    lines += ["", "- target: at most 1 KiB per file above the base, the same per-file cost at every count"]
    table = "\n".join(lines) + "\n"
    print(table, end="")
    if arguments.out:
        arguments.out.write_text(table)


if __name__ == "__main__":
    main()
