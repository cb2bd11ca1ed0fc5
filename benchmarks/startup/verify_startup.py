"""`packseal verify-bundle` of a 3-file minisign pack against a bare `python -c pass`: start-up cost.

Target (issue 13): at most 80 ms wall; the process imports no Sigstore,
protobuf or Git code (tests/cli/test_startup_imports.py asserts that by
module name). Verifying three small files is a fraction of a millisecond,
so this measures the interpreter, the imports and one signature check.

A second row measures the floor under it: a process that only imports what
any packseal verification needs and packseal does not write (click, the
command-line library; `cryptography`'s Ed25519; the standard library's
pathlib, json, hashlib and dataclasses). What packseal adds above that
floor is its own share of the start-up.

Run: .venv/bin/python benchmarks/startup/verify_startup.py [--runs 15] [--out FILE]
"""

import argparse
import statistics
import tempfile
from pathlib import Path

from _paths import compile_packseal, harness

TARGET_MS = 80
DEPENDENCY_FLOOR = (
    "import click, cryptography.hazmat.primitives.asymmetric.ed25519, pathlib, json, hashlib, dataclasses"
)


def write_pack(root: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "README.md").write_text("# pack\n")
    (root / "bin" / "run.sh").write_text("#!/bin/sh\necho hello\n")
    (root / "data.bin").write_bytes(bytes(range(256)) * 40)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    arguments = parser.parse_args()
    compile_packseal()
    with tempfile.TemporaryDirectory(prefix="packseal-startup-bench-") as directory:
        work = Path(directory)
        pack = write_pack(work / "pack")
        secret, public = harness.minisign_keys(work / "keys")
        harness.run_once(harness.packseal_sign(pack, secret))
        row = harness.interleaved(
            "verify-bundle, 3-file pack, minisign",
            ("packseal verify-bundle", harness.packseal_verify(pack, public)),
            ("python -c pass", [harness.PYTHON, "-c", "pass"]),
            arguments.runs,
        )
        floor = harness.interleaved(
            "the dependencies' floor: their imports alone",
            ("python -c 'import click, cryptography (Ed25519), ...'", [harness.PYTHON, "-c", DEPENDENCY_FLOOR]),
            ("python -c pass", [harness.PYTHON, "-c", "pass"]),
            arguments.runs,
        )
    wall_ms = statistics.median(run.wall for run in row.a) * 1000
    floor_ms = statistics.median(run.wall for run in floor.a) * 1000
    notes = [
        f"packseal verify-bundle: {wall_ms:.0f} ms median wall; target at most {TARGET_MS} ms "
        f"({'met' if wall_ms <= TARGET_MS else 'missed'} in this run)",
        f"the dependencies' floor: {floor_ms:.0f} ms; packseal's own share: {wall_ms - floor_ms:.0f} ms",
    ]
    table = harness.report("Start-up", [row, floor], arguments.runs, notes)
    print(table, end="")
    if arguments.out:
        arguments.out.write_text(table)


if __name__ == "__main__":
    main()
