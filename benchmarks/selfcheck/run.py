"""Time the startup self-check against `sha256sum` on the same file.

For 1 MiB, 50 MiB and 200 MiB binaries (random bytes, warm page cache, as a
binary that was just executed is), each measured REPEAT times, medians:

- `sha256sum FILE`: the floor a self-check cannot beat by much;
- `packseal self check --record R --binary FILE --minisign-pubkey P`: the
  whole command, interpreter start and imports included;
- `check_self(R, public_key=P, binary=FILE)` in a running process: what a
  daemon pays once it has imported `signing.selfcheck`;
- `digest_stream` alone: the hashing inside `check_self`, so that the
  overhead beyond hashing is measured, not guessed;
- a fresh `python -c "from signing.selfcheck import check_self"` (and one
  importing the CLI) minus a bare `python -c pass`: what the daemon's
  import line, and the command's start, cost.

Run: .venv/bin/python benchmarks/selfcheck/run.py [--repeat N] [--out RESULTS.md]
"""

import argparse
import functools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from signing.backends.minisign import generate_key_pair, read_secret_key
from signing.digest import digest_stream
from signing.selfcheck import check_self, record_self

SIZES_MIB = (1, 50, 200)
# Until `self` is registered in signing.cli, the same `main` with the group added.
CLI_WRAPPER = (
    "from signing.cli import cli, main; from signing.cli.selfcheck import self_group; "
    "cli.add_command(self_group, 'self'); main()"
)


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    """Median wall time of `action`, after one untimed run to warm the page cache."""
    action()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(command: list[str]) -> None:
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def packseal_command() -> tuple[list[str], str]:
    """`packseal self` if the console script has it, else the same `main` through a wrapper."""
    packseal = Path(sys.executable).parent / "packseal"
    registered = subprocess.run([packseal, "self", "--help"], capture_output=True).returncode == 0
    if registered:
        return [str(packseal)], "packseal"
    return [sys.executable, "-c", CLI_WRAPPER], "python -c '<signing.cli main with self_group added>'"


def write_random_file(path: Path, mib: int) -> None:
    with open(path, "wb") as stream:
        for _ in range(mib):
            stream.write(os.urandom(1024 * 1024))


def measure_size(workdir: Path, mib: int, keys, command: list[str], repeat: int) -> dict[str, float]:
    binary, record = workdir / f"binary-{mib}", workdir / f"record-{mib}"
    write_random_file(binary, mib)
    record_self(binary, record, secret_key=read_secret_key(keys.secret_key))
    check_arguments = ["self", "check", "--record", str(record), "--binary", str(binary)]
    check_arguments += ["--minisign-pubkey", str(keys.public_key)]

    def hash_only() -> None:
        with open(binary, "rb") as stream:
            digest_stream(stream)

    return {
        "sha256sum": median_seconds(lambda: run(["sha256sum", str(binary)]), repeat),
        "cli": median_seconds(lambda: run([*command, *check_arguments]), repeat),
        "check_self": median_seconds(lambda: check_self(record, public_key=keys.public_key, binary=binary), repeat),
        "hash_only": median_seconds(hash_only, repeat),
    }


def import_costs(repeat: int) -> dict[str, float]:
    """Median wall time of a fresh interpreter running each statement; `pass` is the floor."""
    statements = ("pass", "from signing.selfcheck import check_self", "import signing.cli, signing.cli.selfcheck")
    return {
        statement: median_seconds(functools.partial(run, [sys.executable, "-c", statement]), repeat)
        for statement in statements
    }


def report(rows: dict[int, dict[str, float]], imports: dict[str, float], cli_name: str, repeat: int) -> str:
    ms = 1000.0
    lines = [
        "# Self-check benchmark",
        "",
        f"`benchmarks/selfcheck/run.py`, {repeat} repetitions each, medians; random files, warm page cache;",
        f"CPU: {cpu_model()}; Python {sys.version.split()[0]}; CLI run as `{cli_name}`.",
        "",
        "| size | sha256sum | packseal self check (process) | ratio | overhead | "
        "check_self (in process) | ratio | hashing alone | overhead beyond hashing |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for mib, row in rows.items():
        lines.append(
            f"| {mib} MiB | {row['sha256sum'] * ms:.1f} ms | {row['cli'] * ms:.1f} ms | "
            f"{row['cli'] / row['sha256sum']:.2f}x | {(row['cli'] - row['sha256sum']) * ms:+.1f} ms | "
            f"{row['check_self'] * ms:.1f} ms | {row['check_self'] / row['sha256sum']:.2f}x | "
            f"{row['hash_only'] * ms:.1f} ms | {(row['check_self'] - row['hash_only']) * ms:+.1f} ms |"
        )
    bare = imports.pop("pass")
    lines += ["", "| fresh `python -c` | wall time | beyond a bare interpreter |", "| --- | ---: | ---: |"]
    lines.append(f"| `pass` | {bare * ms:.1f} ms | |")
    for statement, seconds in imports.items():
        lines.append(f"| `{statement}` | {seconds * ms:.1f} ms | {(seconds - bare) * ms:+.1f} ms |")
    return "\n".join(lines) + "\n"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip() + f" ({os.cpu_count()} CPUs)"
    except OSError:
        pass
    return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--out", type=Path, help="Also write the table to this file.")
    arguments = parser.parse_args()
    if shutil.which("sha256sum") is None:
        sys.exit("sha256sum is not installed")
    command, cli_name = packseal_command()
    with tempfile.TemporaryDirectory(prefix="packseal-selfcheck-bench-") as directory:
        workdir = Path(directory)
        keys = generate_key_pair(workdir / "keys", "bench", None)
        rows = {mib: measure_size(workdir, mib, keys, command, arguments.repeat) for mib in SIZES_MIB}
    table = report(rows, import_costs(arguments.repeat), cli_name, arguments.repeat)
    print(table, end="")
    if arguments.out:
        arguments.out.write_text(table)


if __name__ == "__main__":
    main()
