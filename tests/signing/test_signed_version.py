"""A bundle's version is signed into its manifest Statement: verified with it, and never editable without the key."""

import json
from pathlib import Path

import pytest
from installs import OLD_PACK, write_tree
from trees import snapshot

from attest.canonical import canonical_json
from signing.errors import SigningError
from signing.sign import sign_with_minisign
from signing.verify import verify_bundle


def test_a_signed_version_is_in_the_verdict_and_the_statement(tmp_path, key_pair, policy):
    pack = write_tree(tmp_path / "pack", OLD_PACK)

    signed = sign_with_minisign(pack, key_pair.secret_key, version="1.2.0")

    verdict = verify_bundle(pack, policy)
    assert verdict.verified and verdict.version == "1.2.0"
    assert verdict.to_json()["version"] == "1.2.0"
    assert "version 1.2.0" in next(check.detail for check in verdict.checks if check.name == "statement")
    statement = json.loads((pack / ".packseal/manifest.json").read_bytes())
    assert statement["predicate"]["version"] == "1.2.0"
    assert signed.digest == verdict.digest == f"sha256:{statement['subject'][0]['digest']['sha256']}"


def test_the_version_is_not_part_of_the_tree_digest(tmp_path, key_pair, policy):
    """The digest names the files; the same files signed as two versions have one digest (rollback compares both)."""
    one = write_tree(tmp_path / "a" / "pack", OLD_PACK)
    two = write_tree(tmp_path / "b" / "pack", OLD_PACK)
    sign_with_minisign(one, key_pair.secret_key, version="1.0.0")
    sign_with_minisign(two, key_pair.secret_key)

    assert verify_bundle(one, policy).digest == verify_bundle(two, policy).digest
    assert verify_bundle(two, policy).version is None


def _edit_statement(pack: Path, edit) -> None:
    path = pack / ".packseal/manifest.json"
    statement = json.loads(path.read_bytes())
    edit(statement["predicate"])
    path.write_bytes(canonical_json(statement))


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda predicate: predicate.update(version="9.9.9"), id="raised"),
        pytest.param(lambda predicate: predicate.pop("version"), id="removed"),
    ],
)
def test_an_attacker_editing_the_signed_version_breaks_the_signature(tmp_path, key_pair, policy, edit):
    """An old release relabelled as new (or as unversioned) to slip past rollback protection is refused."""
    pack = write_tree(tmp_path / "pack", OLD_PACK)
    sign_with_minisign(pack, key_pair.secret_key, version="1.0.0")

    _edit_statement(pack, edit)

    verdict = verify_bundle(pack, policy)
    assert not verdict.verified and verdict.refusal.name == "signature"
    assert verdict.version is None


def test_an_attacker_adding_a_version_to_an_unversioned_bundle_breaks_the_signature(tmp_path, key_pair, policy):
    pack = write_tree(tmp_path / "pack", OLD_PACK)
    sign_with_minisign(pack, key_pair.secret_key)

    _edit_statement(pack, lambda predicate: predicate.update(version="99.0"))

    assert verify_bundle(pack, policy).refusal.name == "signature"


def test_a_single_file_cannot_be_given_a_version(tmp_path, key_pair):
    artifact = tmp_path / "tool-1.0.tar.gz"
    artifact.write_bytes(b"payload\n")
    before = snapshot(tmp_path)

    with pytest.raises(SigningError, match="a single file is signed as it is, with no manifest Statement"):
        sign_with_minisign(artifact, key_pair.secret_key, version="1.0")

    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("version", ["", "1.0 beta", "x" * 129, "1.0\x1b[31m"])
def test_a_version_the_manifest_would_refuse_is_refused_before_anything_is_written(tmp_path, key_pair, version):
    pack = write_tree(tmp_path / "pack", OLD_PACK)
    before = snapshot(tmp_path)

    with pytest.raises(SigningError, match="printable ASCII characters without spaces"):
        sign_with_minisign(pack, key_pair.secret_key, version=version)

    assert snapshot(tmp_path) == before
