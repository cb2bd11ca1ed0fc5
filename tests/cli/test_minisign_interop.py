"""Interop with Debian's stock `minisign` 0.11 binary, in both directions.

Without a TTY the stock binary reads passwords from stdin: `-G` reads the
password and its confirmation (two lines), `-S` reads it once.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.interop


def _stock_sign(cli, keys, target: Path, *extra: str, signature: Path | None = None) -> Path:
    signature = signature or target.with_name(target.name + ".minisig")
    stdin = f"{keys.password}\n" if keys.password else None
    result = cli.minisign("-S", "-s", keys.key, "-m", target, "-x", signature, *extra, input=stdin)
    assert result.returncode == 0, cli.describe(result)
    return signature


def _stock_verify(cli, target: Path, pub: Path, signature: Path | None = None):
    args = ["-V", "-m", target, "-p", pub]
    if signature is not None:
        args += ["-x", signature]
    return cli.minisign(*args)


def _algorithm(signature: Path) -> bytes:
    """b"ED" for a prehashed signature, b"Ed" for a legacy one."""
    return base64.b64decode(signature.read_text().splitlines()[1])[:2]


def _assert_verified(cli, bundle: Path, pub: Path) -> None:
    result = cli.verify(bundle, pub)
    assert result.returncode == 0, cli.describe(result)
    assert result.stdout.startswith("VERIFIED"), cli.describe(result)


# --- keys from `minisign -G` sign with `packseal sign` ----------------------


@pytest.mark.slow
def test_stock_encrypted_key_signs_a_file_with_packseal(single_file, stock_keys, cli):
    """At stock minisign's scrypt cost: the key file says it, packseal pays it."""
    keys = stock_keys["locked"]

    cli.sign_ok(single_file, keys, env={"PACKSEAL_PASSWORD": keys.password})

    stock = _stock_verify(cli, single_file, keys.pub)
    assert stock.returncode == 0, cli.describe(stock)
    _assert_verified(cli, single_file, keys.pub)


def test_stock_unencrypted_key_signs_a_directory_with_packseal(pack, stock_keys, cli):
    keys = stock_keys["plain"]

    cli.sign_ok(pack, keys)

    stock = _stock_verify(cli, pack / cli.MANIFEST, keys.pub)
    assert stock.returncode == 0, cli.describe(stock)
    _assert_verified(cli, pack, keys.pub)


# --- stock minisign verifies packseal's signatures --------------------------


def test_stock_minisign_verifies_packseal_file_signature_as_prehashed(signed_file, keys, cli):
    signature = signed_file.with_name(signed_file.name + ".minisig")

    stock = _stock_verify(cli, signed_file, keys.pub)

    assert stock.returncode == 0, cli.describe(stock)
    assert _algorithm(signature) == b"ED"
    _, verdict = cli.verify_json(signed_file, keys.pub)
    assert verdict["digest"] in stock.stdout, (verdict, stock.stdout)


def test_stock_minisign_verifies_packseal_manifest_signature(signed_pack, keys, cli):
    stock = _stock_verify(cli, signed_pack / cli.MANIFEST, keys.pub)

    assert stock.returncode == 0, cli.describe(stock)
    assert _algorithm(signed_pack / cli.MANIFEST_SIG) == b"ED"
    claim = f"Trusted comment: packseal bundle-manifest sha256:{cli.tree_digest_of(signed_pack)} pack timestamp:"
    assert claim in stock.stdout, "stock minisign shows the role and subject the signature states"


def test_stock_minisign_rejects_packseal_signature_after_a_change(signed_file, keys, cli):
    signed_file.write_bytes(signed_file.read_bytes() + b"x")

    assert _stock_verify(cli, signed_file, keys.pub).returncode != 0


# --- packseal keygen keys sign with `minisign -S` ---------------------------


def test_packseal_unencrypted_key_signs_with_stock_minisign(single_file, keys, cli):
    _stock_sign(cli, keys, single_file)

    _assert_verified(cli, single_file, keys.pub)
    assert _stock_verify(cli, single_file, keys.pub).returncode == 0


def test_packseal_encrypted_key_signs_with_stock_minisign(single_file, tmp_path, key_store, cli):
    """The suite's keys are cheap to unlock (tests/key_derivation.py): stock minisign reads the cost from the file."""
    keys = key_store("locked", password=cli.PASSWORD).copy_to(tmp_path / "locked")

    _stock_sign(cli, keys, single_file)

    _assert_verified(cli, single_file, keys.pub)


@pytest.mark.slow
def test_keygen_encrypts_at_stock_cost_and_stock_minisign_signs_with_the_key(single_file, tmp_path, cli):
    """The console script, out of reach of the suite's cheap test cost, encrypts as `minisign -G` does."""
    result = cli.spawn_packseal(
        "keygen", "--output-dir", tmp_path / "keys", "--name", "stock", env={"PACKSEAL_PASSWORD": cli.PASSWORD}
    )
    assert result.returncode == 0, cli.describe(result)
    keys = cli.KeyPair(tmp_path / "keys" / "stock.key", tmp_path / "keys" / "stock.pub", cli.PASSWORD)
    header = base64.b64decode(keys.key.read_text().splitlines()[1])
    # minisign.c's SeckeyStruct: kdf_opslimit and kdf_memlimit, little-endian, libsodium's "sensitive" limits.
    assert (header[38:46], header[46:54]) == ((33_554_432).to_bytes(8, "little"), (1_073_741_824).to_bytes(8, "little"))

    _stock_sign(cli, keys, single_file)

    _assert_verified(cli, single_file, keys.pub)


def test_packseal_key_id_matches_what_stock_minisign_reports(keys, cli):
    printed, _ = cli.key_id_forms(keys.pub)

    assert printed in keys.pub.read_text().splitlines()[0].upper()


# --- verify-bundle accepts stock signatures ---------------------------------


@pytest.mark.parametrize("legacy", [False, True], ids=["prehashed", "legacy"])
def test_verify_bundle_accepts_stock_file_signature(single_file, stock_keys, cli, legacy):
    keys = stock_keys["plain"]
    _stock_sign(cli, keys, single_file, *(["-l"] if legacy else []))
    assert _algorithm(single_file.with_name(single_file.name + ".minisig")) == (b"Ed" if legacy else b"ED")

    _assert_verified(cli, single_file, keys.pub)


@pytest.mark.parametrize("legacy", [False, True], ids=["prehashed", "legacy"])
def test_verify_bundle_accepts_stock_signature_of_the_manifest_with_the_role_comment(
    signed_pack, keys, stock_keys, cli, legacy
):
    """As README shows it: the claim's digest is the subject of the manifest Statement packseal wrote."""
    stock = stock_keys["plain"]
    subject = json.loads((signed_pack / cli.MANIFEST).read_bytes())["subject"][0]["digest"]["sha256"]
    role_comment = f"packseal bundle-manifest sha256:{subject}"
    _stock_sign(cli, stock, signed_pack / cli.MANIFEST, "-t", role_comment, *(["-l"] if legacy else []))

    _assert_verified(cli, signed_pack, stock.pub)
    assert cli.verify(signed_pack, keys.pub).returncode == 1, "the old signer is no longer the signer"


@pytest.mark.parametrize(
    ("comment", "failed_check", "reason"),
    [
        (None, "signature", "claims no packseal role"),
        ("packseal file sha256:{digest}", "signature", "signature is for a file, not a bundle-manifest"),
        (
            "packseal bundle-manifest sha256:" + "0" * 64,
            "statement",
            "signature is for the bundle-manifest of sha256:0",
        ),
        ("packseal bundle pack sha256:{digest}", "signature", "re-sign with this version of packseal"),
    ],
    ids=["stock-comment", "file-role", "other-digest", "earlier-packseal-format"],
)
def test_verify_bundle_refuses_a_stock_signature_of_the_manifest_without_its_role_claim(
    signed_pack, stock_keys, cli, comment, failed_check, reason
):
    """A key holder who signed these bytes as a plain file, or for another subject, did not sign this manifest."""
    stock = stock_keys["plain"]
    digest = cli.tree_digest_of(signed_pack)
    _stock_sign(
        cli, stock, signed_pack / cli.MANIFEST, *([] if comment is None else ["-t", comment.format(digest=digest)])
    )

    result, verdict = cli.verify_json(signed_pack, stock.pub)

    assert result.returncode == 1, cli.describe(result)
    failed = cli.assert_refused_at(verdict, failed_check)
    assert reason in failed["detail"], failed


@pytest.mark.parametrize("legacy", [False, True], ids=["prehashed", "legacy"])
def test_verify_bundle_refuses_stock_signature_with_edited_trusted_comment(single_file, stock_keys, cli, legacy):
    keys = stock_keys["plain"]
    signature = _stock_sign(cli, keys, single_file, "-t", "release 1.0", *(["-l"] if legacy else []))
    text = signature.read_text()
    signature.write_text(text.replace("trusted comment: release 1.0", "trusted comment: release 2.0"))
    assert _stock_verify(cli, single_file, keys.pub).returncode != 0, "the edit must break stock verification"

    result, verdict = cli.verify_json(single_file, keys.pub)

    assert result.returncode == 1, cli.describe(result)
    cli.assert_refused_at(verdict, "signature", dir_bundle=False)


def test_verify_bundle_refuses_a_stock_legacy_signature_after_a_change(single_file, stock_keys, cli):
    keys = stock_keys["plain"]
    _stock_sign(cli, keys, single_file, "-l")
    single_file.write_bytes(b"y" + single_file.read_bytes()[1:])

    result = cli.verify(single_file, keys.pub)

    assert result.returncode == 1, cli.describe(result)
    assert result.stdout.startswith("REFUSED")
