"""Time `check_self` for a Python daemon with a 2,000-file distribution, beside `sha256sum` on the same files.

A distribution `benchdaemon` of 100 packages of 19 modules and an
`__init__.py` each (2,000 sources of about 2 KiB, plus dist-info) is
installed by hand into a temporary site directory with a RECORD, and
compiled to `__pycache__` as pip would. It is recorded with a throwaway
minisign key (`record_self(python=True)`), then, REPEAT times each,
medians, warm page cache:

- `check_self(R, public_key=P, script=S)` in this process: what a daemon
  pays after its import line;
- `sha256sum` over every file `check_self` reads: the interpreter, its
  `libpython`, the script, the sources, dist-info and cached bytecode.

Run: .venv/bin/python benchmarks/selfcheck_python/run.py [--repeat N] [--out RESULTS.md]
"""

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from signing.backends.minisign import generate_key_pair, read_secret_key
from signing.selfcheck import check_self, record_self
from signing.selfcheck_python import mapped_libpython

PACKAGES, MODULES = 100, 19
SOURCE = "".join(f"def function_{n}(value):\n    return [value, {n}, 'text {n}' * 2]\n\n" for n in range(30))


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    action()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def install(site: Path) -> list[Path]:
    """Write the distribution and its RECORD, compile it; return every file `check_self` will read in it."""
    dist_info = site / "benchdaemon-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: benchdaemon\nVersion: 1.0\n")
    relative = ["benchdaemon-1.0.dist-info/METADATA", "benchdaemon-1.0.dist-info/RECORD"]
    for package in range(PACKAGES):
        directory = site / f"bench_{package}"
        directory.mkdir()
        for module in ["__init__", *(f"module_{n}" for n in range(MODULES))]:
            (directory / f"{module}.py").write_text(SOURCE)
            relative.append(f"bench_{package}/{module}.py")
    (dist_info / "RECORD").write_text("".join(f"{path},,\n" for path in relative))
    compileall.compile_dir(str(site), quiet=1)
    return sorted(path for path in site.rglob("*") if path.is_file())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        workdir = Path(temporary)
        site = workdir / "site"
        files = install(site)
        sys.path.insert(0, str(site))
        script = workdir / "run.py"
        script.write_text("# the daemon's entry\n")
        keys = generate_key_pair(workdir / "keys", "bench", None)
        record = workdir / "bench.record"
        written = record_self(
            None,
            record,
            secret_key=read_secret_key(keys.secret_key),
            python=True,
            distributions=["benchdaemon"],
            script=script,
        )
        libraries = [Path(m.path) for m in mapped_libpython(Path("/proc/self/maps").read_text())]
        everything = [Path(os.path.realpath("/proc/self/exe")), *libraries, script, *files]
        checked = median_seconds(
            lambda: check_self(record, public_key=keys.public_key, script=script), arguments.repeat
        )
        hashed = median_seconds(
            lambda: subprocess.run(["sha256sum", *map(str, everything)], check=True, stdout=subprocess.DEVNULL),
            arguments.repeat,
        )
        hashed_distribution = median_seconds(
            lambda: subprocess.run(["sha256sum", *map(str, files)], check=True, stdout=subprocess.DEVNULL),
            arguments.repeat,
        )
    sources = sum(1 for path in files if path.suffix == ".py")
    lines = [
        f"`benchmarks/selfcheck_python/run.py`, {arguments.repeat} repetitions each, medians, warm page cache; "
        f"{sys.implementation.cache_tag}, {os.cpu_count()} CPUs.",
        "",
        f"Distribution: {sources} sources, {len(files) - sources} other files (dist-info and `__pycache__`); "
        f"record covers {written.files} files, {written.size} bytes (interpreter and libpython included).",
        "",
        "| what | median | ratio to `sha256sum` |",
        "| --- | ---: | ---: |",
        f"| `sha256sum` over every file `check_self` reads ({len(everything)} files)"
        f" | {hashed * 1000:.1f} ms | 1.00x |",
        f"| `check_self(R, public_key=P)` in process | {checked * 1000:.1f} ms | {checked / hashed:.2f}x |",
        f"| `sha256sum` over the distribution's files only ({len(files)}) | {hashed_distribution * 1000:.1f} ms | "
        f"{hashed_distribution / hashed:.2f}x |",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if arguments.out:
        arguments.out.write_text("# Python self-check benchmark results\n\n" + text)


if __name__ == "__main__":
    main()
