"""Time whole commands, interleaved, and print a table with ratios (shared by the bundle benchmarks).

Each command runs as its own process, A B A B ..., after one warm-up run
each, so page cache and machine speed drift hit both alike; every figure is
a median. Wall time, CPU time and peak RSS come from the kernel's
accounting of that one child (`os.wait4`), not from sampling.
"""

import os
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
PACKSEAL = str(Path(sys.executable).parent / "packseal")


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    peak_mib: float


@dataclass(frozen=True)
class Row:
    """One line of a table: packseal's command against a comparison, each run `len(a)` times."""

    work: str
    a_name: str
    a: list[Run]
    b_name: str
    b: list[Run]

    def line(self) -> str:
        a_wall, b_wall = _median(self.a, "wall"), _median(self.b, "wall")
        paired = statistics.median(x.wall / y.wall for x, y in zip(self.a, self.b, strict=True))
        return (
            f"| {self.work} | {self.a_name}: {a_wall:.3f} s, {_median(self.a, 'peak_mib'):.0f} MiB | "
            f"{self.b_name}: {b_wall:.3f} s, {_median(self.b, 'peak_mib'):.0f} MiB | "
            f"{a_wall / b_wall:.2f}x (paired {paired:.2f}x) | {_median(self.a, 'cpu') / _median(self.b, 'cpu'):.2f}x |"
        )


TABLE_HEAD = (
    "| work | packseal (median wall, peak RSS) | comparison | wall ratio | CPU ratio |\n"
    "| --- | --- | --- | ---: | ---: |"
)


def _median(runs: list[Run], field: str) -> float:
    return statistics.median(getattr(run, field) for run in runs)


def run_once(command: Sequence[str]) -> Run:
    """Run `command` to completion, output discarded; refuse a failing run (a benchmark of an error is none)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    error = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"{shlex.join(command)} failed ({process.returncode}): {error.decode(errors='replace')}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def interleaved(work: str, a: tuple[str, Sequence[str]], b: tuple[str, Sequence[str]], runs: int) -> Row:
    """A B A B ...: one warm-up each, then `runs` counted runs of each.

    The data a script has just written is flushed first: the kernel's
    writeback of a freshly written GiB otherwise lands in the first row.
    """
    os.sync()
    run_once(a[1])
    run_once(b[1])
    a_runs, b_runs = [], []
    for _ in range(runs):
        a_runs.append(run_once(a[1]))
        b_runs.append(run_once(b[1]))
    return Row(work, a[0], a_runs, b[0], b_runs)


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{model}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average {load:.1f} at the start"


def report(title: str, rows: list[Row], runs: int, notes: Sequence[str] = ()) -> str:
    lines = [f"## {title}", "", f"{machine()}; medians of {runs} interleaved runs, page cache warm.", ""]
    lines += [TABLE_HEAD, *(row.line() for row in rows), ""]
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines).rstrip() + "\n"


def write_random_tree(root: Path, count: int, low: int, high: int, *, seed: int = 13) -> Path:
    """`count` files of `low`..`high` random bytes, 500 to a directory, as a package's files spread."""
    import random

    generator = random.Random(seed)
    for index in range(count):
        directory = root / f"d{index // 500:04d}"
        if index % 500 == 0:
            directory.mkdir(parents=True)
        (directory / f"f{index:07d}.bin").write_bytes(generator.randbytes(generator.randint(low, high)))
    return root


def minisign_keys(directory: Path) -> tuple[Path, Path]:
    """A throwaway unencrypted minisign key pair: (secret key, public key)."""
    subprocess.run(
        [PACKSEAL, "keygen", "--output-dir", str(directory), "--name", "bench", "--no-password"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return directory / "bench.key", directory / "bench.pub"


def packseal_sign(bundle: Path, secret_key: Path) -> list[str]:
    return [PACKSEAL, "sign", str(bundle), "--minisign-key", str(secret_key)]


def packseal_verify(bundle: Path, public_key: Path) -> list[str]:
    return [PACKSEAL, "verify-bundle", str(bundle), "--minisign-pubkey", str(public_key)]


def baseline(name: str, *arguments: str) -> list[str]:
    """A comparison program from `baselines/`, run by the same interpreter."""
    return [PYTHON, str(HERE / "baselines" / name), *arguments]


def remove_tree(root: Path) -> None:
    """Free the disk a finished measurement used (the temporary directory goes at the end anyway)."""
    import shutil

    shutil.rmtree(root)
