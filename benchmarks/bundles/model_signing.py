"""Verify and sign 20,000 files of 1-8 KiB with packseal and with OpenSSF `model_signing` (key signing, both).

Target (issue 13): packseal at least 4x faster on both. `model_signing` is
installed apart from packseal, in its own virtual environment:

    python3 -m venv /tmp/model-signing && /tmp/model-signing/bin/pip install model-signing pyopenssl

(model-signing 1.1.1 imports OpenSSL without declaring pyopenssl.) Its keys
are an ECDSA P-256 pair made with `openssl`.

Run: .venv/bin/python benchmarks/bundles/model_signing.py --model-signing /tmp/model-signing/bin/model_signing
"""

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import harness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-signing", required=True, help="the model_signing command of its own venv")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    arguments = parser.parse_args()
    if shutil.which("openssl") is None:
        raise SystemExit("openssl is needed to make model_signing's key pair")
    with tempfile.TemporaryDirectory(prefix="packseal-model-signing-bench-") as directory:
        work = Path(directory)
        ours = harness.write_random_tree(work / "packseal", arguments.files, 1024, 8192)
        theirs = harness.write_random_tree(work / "model", arguments.files, 1024, 8192)  # same bytes, own copy
        secret, public = harness.minisign_keys(work / "keys")
        ec_key, ec_pub, signature = work / "ec.pem", work / "ec.pub.pem", work / "model.sig"
        subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", ec_key], check=True)
        subprocess.run(["openssl", "ec", "-in", ec_key, "-pubout", "-out", ec_pub], check=True, capture_output=True)
        tool = arguments.model_signing
        theirs_sign = [tool, "sign", "key", str(theirs), "--signature", str(signature), "--private_key", str(ec_key)]
        theirs_verify = [tool, "verify", "key", str(theirs), "--signature", str(signature), "--public_key", str(ec_pub)]
        files = f"{arguments.files:,} files of 1-8 KiB"
        runs = arguments.runs
        ours_sign = ("packseal sign", harness.packseal_sign(ours, secret))
        ours_verify = ("packseal verify-bundle", harness.packseal_verify(ours, public))
        rows = [
            harness.interleaved(f"sign {files}", ours_sign, ("model_signing sign key", theirs_sign), runs),
            harness.interleaved(f"verify {files}", ours_verify, ("model_signing verify key", theirs_verify), runs),
        ]
    notes = ["target: packseal at most 0.25x (at least 4x faster) on both", f"model_signing: {_version(tool)}"]
    table = harness.report("Against model_signing", rows, arguments.runs, notes)
    print(table, end="")
    if arguments.out:
        arguments.out.write_text(table)


def _version(tool: str) -> str:
    python = Path(tool).parent / "python"
    code = "from importlib.metadata import version; print(version('model-signing'))"
    result = subprocess.run([python, "-c", code], capture_output=True, text=True)
    return result.stdout.strip() or "version unknown"


if __name__ == "__main__":
    main()
