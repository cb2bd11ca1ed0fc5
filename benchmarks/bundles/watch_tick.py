"""`watch check` of 10,000 installed files against `sha256sum -c` of the same files, and a daemon's in-process tick.

Issue 14: a daemon calls `Watcher.check()` every tick, cheap when nothing
changed (stat first). Three comparisons over 20 signed bundles of 500 files
of 1-8 KiB:

- `packseal watch check` (fingerprints trusted) against `sha256sum -c --quiet`,
  what a user would otherwise run: both whole processes, interleaved;
- `watch check --paranoid` (every file hashed) against the same;
- `Watcher.check()` in process, tick after tick, against a bare `os.lstat`
  loop over the same files: the floor of any stat-first check.

Run: .venv/bin/python benchmarks/bundles/watch_tick.py [--runs 7] [--files 10000] [--out FILE]
"""

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import harness

from signing import watch

BUNDLES = 20
SETTLED_SECONDS = 2.5
"""`watch.RACY_NANOSECONDS` and a margin: files written just before the record are hashed until then."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="packseal-watch-bench-") as directory:
        work = Path(directory)
        plugins = work / "plugins"
        secret, _ = harness.minisign_keys(work / "keys")
        for index in range(BUNDLES):
            bundle = harness.write_random_tree(plugins / f"pack-{index:02d}", arguments.files // BUNDLES, 1024, 8192)
            subprocess.run(harness.packseal_sign(bundle, secret), check=True, stdout=subprocess.DEVNULL)
        time.sleep(SETTLED_SECONDS)
        state = work / "plugins.state"
        subprocess.run([harness.PACKSEAL, "watch", "record", str(plugins), "--out", str(state)], check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        listing = _sha256sum_listing(plugins, work / "SHA256SUMS")
        check = [harness.PACKSEAL, "watch", "check", str(plugins), "--state", str(state), "--allow-unsigned"]
        sha256sum = ("sha256sum -c", ["sha256sum", "-c", "--quiet", str(listing)])
        files = f"{arguments.files:,} files in {BUNDLES} bundles"
        rows = [
            harness.interleaved(f"watch check, {files}", ("packseal watch check", check), sha256sum, arguments.runs),
            harness.interleaved(
                f"watch check --paranoid, {files}", ("--paranoid", [*check, "--paranoid"]), sha256sum, arguments.runs
            ),
        ]
        tick, floor = _in_process(plugins, state, arguments.runs)
    notes = [
        f"in process, `Watcher.check()` per tick: {tick * 1000:.1f} ms; an `os.lstat` loop over the same "
        f"files: {floor * 1000:.1f} ms ({tick / floor:.2f}x); medians of {arguments.runs} ticks",
    ]
    table = harness.report("Watch: drift and phantom check", rows, arguments.runs, notes)
    print(table, end="")
    if arguments.out:
        arguments.out.write_text(table)


def _sha256sum_listing(root: Path, listing: Path) -> Path:
    """Every file below `root` with its sha256, as `sha256sum` writes it (what `-c` checks)."""
    paths = sorted(str(path) for path in root.rglob("*") if path.is_file())
    result = subprocess.run(["sha256sum", *paths], check=True, capture_output=True)
    listing.write_bytes(result.stdout)
    return listing


def _in_process(plugins: Path, state_path: Path, runs: int) -> tuple[float, float]:
    """Median seconds of one `Watcher.check()` tick, and of a bare `lstat` of every file it watches."""
    state, _ = watch.read_state(state_path, allow_unsigned=True)
    watcher = watch.Watcher(plugins, state)
    assert watcher.check().unchanged
    locations = [plugins / file.path for item in state.items for file in item.files]
    ticks, floors = [], []
    for _ in range(runs):
        start = time.perf_counter()
        assert watcher.check().unchanged
        ticks.append(time.perf_counter() - start)
        start = time.perf_counter()
        for location in locations:
            os.lstat(location)
        floors.append(time.perf_counter() - start)
    return statistics.median(ticks), statistics.median(floors)


if __name__ == "__main__":
    main()
