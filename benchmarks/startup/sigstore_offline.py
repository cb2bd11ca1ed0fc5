"""Offline Sigstore verification: `packseal verify-bundle --offline` against `sigstore verify identity --offline`.

Target (issue 13): at most 1.0x, on the same bundle: a real public-good
bundle (a wheel signed by a GitHub Actions workflow, from sigstore-python's
test assets in tests/data/sigstore/), verified against the trusted root
shipped inside `sigstore`, with the same identity and issuer. Both run with
HOME a fresh temporary directory, so neither reads a cache the other wrote.

Run: .venv/bin/python benchmarks/startup/sigstore_offline.py [--runs 7] [--out FILE]
"""

import argparse
import os
import tempfile
from pathlib import Path

from _paths import ROOT, compile_packseal, harness

DATA = ROOT / "tests" / "data" / "sigstore"
ARTIFACT = DATA / "bundle_v3_github.whl"
BUNDLE = DATA / "bundle_v3_github.whl.sigstore"
IDENTITY = "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2"
ISSUER = "https://token.actions.githubusercontent.com"
SIGSTORE = str(Path(harness.PYTHON).parent / "sigstore")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    arguments = parser.parse_args()
    compile_packseal()
    packseal = [harness.PACKSEAL, "verify-bundle", str(ARTIFACT), "--bundle", str(BUNDLE), "--offline"]
    packseal += ["--certificate-identity", IDENTITY, "--certificate-oidc-issuer", ISSUER]
    sigstore = [SIGSTORE, "verify", "identity", "--offline", "--bundle", str(BUNDLE)]
    sigstore += ["--cert-identity", IDENTITY, "--cert-oidc-issuer", ISSUER, str(ARTIFACT)]
    with tempfile.TemporaryDirectory(prefix="packseal-sigstore-bench-") as home:
        os.environ["HOME"] = home
        row = harness.interleaved(
            "Sigstore offline verification, public-good bundle",
            ("packseal verify-bundle --offline", packseal),
            ("sigstore verify identity --offline", sigstore),
            arguments.runs,
        )
    table = harness.report("Sigstore offline", [row], arguments.runs, ["target: at most 1.0x"])
    print(table, end="")
    if arguments.out:
        arguments.out.write_text(table)


if __name__ == "__main__":
    main()
