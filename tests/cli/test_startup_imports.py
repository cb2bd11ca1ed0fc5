"""What `packseal` imports to start: a command loads its own code, never Sigstore, protobuf or Git.

Start-up time is mostly imports, and time is too noisy on a shared machine
to assert on; the module names are exact. So each test runs the real
console script under `python -X importtime` on a real bundle or binary and
reads the names of every module the process imported. A positive control
(`version`, which reads the trusted root shipped in sigstore) shows the reading sees such names.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PACKSEAL = Path(sys.executable).parent / "packseal"

HEAVY = (
    "sigstore",
    "sigstore_models",
    "pydantic",
    "rich",
    "requests",
    "google.protobuf",
    "in_toto_attestation",
    "dulwich",
    "attest.git",
    "attest.worktree",
    "attest.build_facts",
    "minisign",
    "cryptography.hazmat.primitives.serialization",
    "signing.trustfile",
    "tomllib",
    "attest.provenance",
    "signing.source_checks",
    "signing.pins",
    "logging",
)
"""Module families no minisign verification or self-check needs: Sigstore and its models, protobuf, Git,
py-minisign (key generation and signing) with the serialization layer of `cryptography` it loads, the
trust policy file's reader (only `--policy` needs it), provenance with the source checks and pins (only a
source pin, a lock file or a policy that requires provenance reads them), and `logging` (only to quiet
what Sigstore and urllib3 log)."""

OTHER_COMMANDS = ("signing.cli.sign", "signing.cli.keygen", "signing.cli.lock", "signing.sign")


def imported_modules(*args: object) -> set[str]:
    """Every module a `packseal` process imported while running `args` (which must succeed)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", str(PACKSEAL), *map(str, args)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert result.returncode == 0, result
    lines = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    names = {line.rsplit("|", 1)[1].strip() for line in lines[1:]}  # the first line is the header
    assert "click" in names, result.stderr
    return names


def of_family(names: set[str], families: tuple[str, ...]) -> list[str]:
    return sorted(name for name in names if any(name == f or name.startswith(f"{f}.") for f in families))


def write_three_file_pack(pack: Path) -> Path:
    (pack / "bin").mkdir(parents=True)
    (pack / "README.md").write_text("# pack\n")
    (pack / "bin" / "run.sh").write_text("#!/bin/sh\necho hello\n")
    (pack / "data.bin").write_bytes(bytes(range(256)) * 40)
    return pack


@pytest.fixture
def three_file_pack(tmp_path: Path, keys, run_packseal) -> Path:
    pack = write_three_file_pack(tmp_path / "pack")
    signed = run_packseal("sign", pack, "--minisign-key", keys.key)
    assert signed.returncode == 0, signed
    return pack


@pytest.mark.parametrize("extra", [(), ("--json",)], ids=["text", "json"])
def test_verifying_a_minisign_pack_imports_no_sigstore_protobuf_or_git(
    three_file_pack: Path, keys, extra: tuple[str, ...]
) -> None:
    names = imported_modules("verify-bundle", three_file_pack, "--minisign-pubkey", keys.pub, *extra)

    assert {"signing.verify", "signing.backends.minisign"} <= names
    assert of_family(names, HEAVY) == []
    assert of_family(names, OTHER_COMMANDS) == []


def test_signing_with_minisign_imports_no_sigstore_protobuf_or_git(tmp_path: Path, keys) -> None:
    """Signing needs py-minisign (and the serialization layer it loads), but not what only `attest` reads."""
    names = imported_modules("sign", write_three_file_pack(tmp_path / "pack"), "--minisign-key", keys.key)

    assert {"signing.sign", "minisign"} <= names
    signing_needs = ("minisign", "cryptography.hazmat.primitives.serialization")
    assert of_family(names, tuple(family for family in HEAVY if family not in signing_needs)) == []
    assert of_family(names, ("signing.verify", "signing.cli.verify")) == []


def test_the_self_check_imports_only_what_checking_a_binary_needs(tmp_path: Path, keys, run_packseal) -> None:
    binary = tmp_path / "daemon"
    binary.write_bytes(b"\x7fELF a daemon\n" * 1000)
    record = tmp_path / "daemon.record"
    recorded = run_packseal("self", "record", "--binary", binary, "--out", record, "--minisign-key", keys.key)
    assert recorded.returncode == 0, recorded

    names = imported_modules("self", "check", "--record", record, "--binary", binary, "--minisign-pubkey", keys.pub)

    assert {"signing.selfcheck", "signing.backends.minisign"} <= names
    assert of_family(names, HEAVY) == []
    not_needed = ("signing.verify", "signing.bundle", "signing.cli.verify", "signing.selfcheck_python", "subprocess")
    assert of_family(names, (*OTHER_COMMANDS, *not_needed)) == []


def test_the_reading_sees_sigstore_where_a_command_does_load_it() -> None:
    """`version` reads the trusted root shipped in sigstore, so it imports Sigstore: the names above would be seen."""
    names = imported_modules("version")

    assert "sigstore" in names and "signing.backends.sigstore" in names
    assert "signing.verify" not in names
