"""`packseal self check` of a 50 MiB binary (signed record) against `sha256sum` of the same file.

Target (issue 13): at most 1.0x. The command is start-up plus one sha256 of
the binary: OpenSSL's sha256 (SHA extensions where the CPU has them) must
win back what the interpreter and imports cost.

Run: .venv/bin/python benchmarks/startup/selfcheck_command.py [--runs 9] [--mib 50] [--out FILE]
"""

import argparse
import os
import tempfile
from pathlib import Path

from _paths import compile_packseal, harness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--mib", type=int, default=50)
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    arguments = parser.parse_args()
    compile_packseal()
    with tempfile.TemporaryDirectory(prefix="packseal-selfcheck-bench-") as directory:
        work = Path(directory)
        binary, record = work / "daemon", work / "daemon.record"
        with open(binary, "wb") as stream:
            for _ in range(arguments.mib):
                stream.write(os.urandom(1024 * 1024))
        secret, public = harness.minisign_keys(work / "keys")
        record_command = [harness.PACKSEAL, "self", "record", "--binary", str(binary), "--out", str(record)]
        harness.run_once([*record_command, "--minisign-key", str(secret)])
        check = [harness.PACKSEAL, "self", "check", "--record", str(record), "--binary", str(binary)]
        row = harness.interleaved(
            f"self check, {arguments.mib} MiB binary",
            ("packseal self check", [*check, "--minisign-pubkey", str(public)]),
            ("sha256sum", ["sha256sum", str(binary)]),
            arguments.runs,
        )
    table = harness.report("Self check", [row], arguments.runs, ["target: at most 1.0x"])
    print(table, end="")
    if arguments.out:
        arguments.out.write_text(table)


if __name__ == "__main__":
    main()
