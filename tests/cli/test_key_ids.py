"""Key ids are shown exactly as stock minisign 0.11 shows them: no leading zeros.

minisign 0.11 prints a key id with `%" PRIX64 "`, so a key number whose top
digits are zero is shown shorter than 16 digits (0.12 pads them, commit
ef2db96). Roughly one key in sixteen has such an id; the keys here are built
with a chosen key number, so the test does not depend on luck.
"""

from __future__ import annotations

import re
from pathlib import Path

import minisign as pyminisign
import pytest

from signing.backends import minisign as minisign_backend

# Key ids as minisign 0.12 would print them: the first leads with one zero
# digit, the second with seven.
LEADING_ZERO_IDS = ["0123456789ABCDEF", "0000000C0FFEE123"]
_generate = pyminisign.KeyPair.generate


def numbered_key_pair(key_id: str) -> pyminisign.KeyPair:
    """A fresh unencrypted key pair whose little-endian key number prints as `key_id` (16 hex digits)."""
    pair = _generate()
    pair.secret_key._keynum_sk.key_id[:] = bytes.fromhex(key_id)[::-1]
    pair.secret_key._update_checksum()
    return pyminisign.KeyPair(pair.secret_key, pyminisign.PublicKey.from_secret_key(pair.secret_key))


def write_key_pair(pair: pyminisign.KeyPair, directory: Path, name: str) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    secret, public = directory / f"{name}.key", directory / f"{name}.pub"
    secret.write_bytes(bytes(pair.secret_key) + b"\n")
    public.write_bytes(bytes(pair.public_key) + b"\n")
    return secret, public


def stock_key_ids(cli, tmp_path: Path, signing_key: Path, public_key: Path) -> tuple[str, str]:
    """(signature's key id, public key's id) as stock `minisign -V` prints them on a mismatch."""
    signed = tmp_path / "stock-signed.txt"
    signed.write_text("signed by stock minisign\n")
    result = cli.minisign("-S", "-s", signing_key, "-m", signed)
    assert result.returncode == 0, cli.describe(result)
    result = cli.minisign("-V", "-p", public_key, "-m", signed)
    match = re.search(r"key id in \S+ is (\w+)\s+but the key id in the public key is (\w+)", result.stderr)
    assert match, cli.describe(result)
    return match.group(1), match.group(2)


@pytest.fixture
def zero_keys(tmp_path: Path, keys) -> dict[str, tuple[Path, Path, str]]:
    """Key pairs whose ids lead with zeros, each with the id stock minisign prints for it."""
    made = {}
    for padded in LEADING_ZERO_IDS:
        secret, public = write_key_pair(numbered_key_pair(padded), tmp_path / "zero", padded)
        made[padded] = (secret, public)
    return made


@pytest.mark.interop
@pytest.mark.parametrize("padded", LEADING_ZERO_IDS)
def test_key_id_is_printed_as_stock_minisign_prints_it(padded: str, tmp_path: Path, cli, keys, zero_keys) -> None:
    secret, public = zero_keys[padded]
    stock_signature_id, _ = stock_key_ids(cli, tmp_path, secret, keys.pub)
    _, stock_trusted_id = stock_key_ids(cli, tmp_path, keys.key, public)
    assert stock_signature_id == stock_trusted_id == padded.lstrip("0")

    assert minisign_backend.key_id(pyminisign.PublicKey.from_file(public)) == stock_trusted_id


@pytest.mark.interop
@pytest.mark.parametrize("padded", LEADING_ZERO_IDS)
def test_verify_bundle_names_key_ids_as_stock_minisign(padded: str, tmp_path: Path, cli, keys, zero_keys) -> None:
    secret, public = zero_keys[padded]
    stock_id, _ = stock_key_ids(cli, tmp_path, secret, keys.pub)
    bundle = tmp_path / "release.txt"
    bundle.write_text("a release\n")
    cli.sign_ok(bundle, cli.KeyPair(secret, public))

    refused = cli.verify(bundle, keys.pub)
    verified = cli.verify(bundle, public)

    assert refused.returncode == 1, cli.describe(refused)
    assert f"signed by key {stock_id}, which is not trusted" in refused.stdout, cli.describe(refused)
    assert verified.returncode == 0, cli.describe(verified)
    assert f"minisign key {stock_id}\n" in verified.stdout, cli.describe(verified)
    assert padded not in refused.stdout + verified.stdout
    _, verdict = cli.verify_json(bundle, public)  # validated against the shipped JSON Schema
    assert verdict["signers"] == [{"system": "minisign", "key_id": stock_id}]


@pytest.mark.interop
def test_keygen_writes_and_prints_the_id_as_stock_minisign(
    tmp_path: Path, cli, keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`generate_key_pair` with its random key chosen: the comment stock minisign -G would write."""
    padded = LEADING_ZERO_IDS[1]
    monkeypatch.setattr(pyminisign.KeyPair, "generate", classmethod(lambda cls: numbered_key_pair(padded)))

    files = minisign_backend.generate_key_pair(tmp_path / "made", "zero", None)

    _, stock_id = stock_key_ids(cli, tmp_path, keys.key, files.public_key)
    assert files.key_id == stock_id == padded.lstrip("0")
    assert files.public_key.read_text().splitlines()[0] == f"untrusted comment: minisign public key {stock_id}"
