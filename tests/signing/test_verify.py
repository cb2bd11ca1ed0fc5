"""verify_bundle through the Python API: every check in order, stopping at the first refusal."""

import hashlib
import json
import os
import re
import shutil
import threading
from pathlib import Path

import pytest

from attest.manifest import Manifest, manifest_statement
from attest.statement import Statement, Subject
from signing.backends.minisign import MinisignKeyring, key_id, sign
from signing.bundle import directory_manifest
from signing.errors import BundleError
from signing.policy import TrustPolicy
from signing.roles import Role, RoleClaim
from signing.sign import sign_with_minisign
from signing.verify import Check, CheckName, SignaturePaths, Verdict, verify_bundle

DIRECTORY_CHECKS = ["layout", "signature", "statement", "files"]


def test_a_signed_bundle_is_verified(signed_bundle, policy, key_pair):
    verdict = verify_bundle(signed_bundle, policy)
    assert verdict.verified
    assert [check.name for check in verdict.checks] == DIRECTORY_CHECKS
    assert all(check.ok for check in verdict.checks)
    assert verdict.refusal is None
    assert verdict.digest == f"sha256:{directory_manifest(signed_bundle).digest}"
    assert [signer.to_json() for signer in verdict.signers] == [
        {"system": "minisign", "key_id": key_id(key_pair.public_key)}
    ]


def test_a_verdict_is_true_only_when_verified(signed_bundle, policy):
    assert verify_bundle(signed_bundle, policy)
    (signed_bundle / "README.md").write_bytes(b"changed")
    refused = verify_bundle(signed_bundle, policy)
    assert refused.checks and not refused


def test_to_json_shape(signed_bundle, policy):
    document = verify_bundle(signed_bundle, policy).to_json()
    assert json.loads(json.dumps(document)) == document
    assert set(document) == {"schema", "verified", "bundle", "digest", "signers", "publisher", "version", "checks"}
    assert document["schema"] == 1
    assert document["publisher"] is None
    assert document["verified"] is True
    assert document["bundle"] == str(signed_bundle)
    assert document["digest"] == f"sha256:{directory_manifest(signed_bundle).digest}"
    assert [check["name"] for check in document["checks"]] == DIRECTORY_CHECKS
    assert all(set(check) == {"name", "ok", "detail", "data"} and check["ok"] is True for check in document["checks"])


def test_to_json_of_a_refusal(signed_bundle, policy):
    shutil.rmtree(signed_bundle / ".packseal")
    document = verify_bundle(signed_bundle, policy).to_json()
    assert document == {
        "schema": 1,
        "verified": False,
        "bundle": str(signed_bundle),
        "digest": None,
        "signers": [],
        "publisher": None,
        "version": None,
        "checks": [
            {"name": "layout", "ok": False, "detail": ".packseal/ is missing: the bundle is not signed", "data": {}}
        ],
    }


def _replace_with_file(path: Path) -> None:
    path.unlink()
    path.write_bytes(b"x")


def _symlinked_signature(root: Path) -> None:
    minisig = root / ".packseal/manifest.json.minisig"
    shutil.copy(minisig, root.parent / "elsewhere.minisig")
    minisig.unlink()
    os.symlink(root.parent / "elsewhere.minisig", minisig)


def _signature_dir_is_a_file(root: Path) -> None:
    shutil.rmtree(root / ".packseal")
    (root / ".packseal").write_bytes(b"")


def _signature_dir_is_a_link(root: Path) -> None:
    (root / ".packseal").rename(root.parent / "sigs")
    os.symlink(root.parent / "sigs", root / ".packseal")


def _resign_statement(root: Path, key_pair, statement: bytes, subject: str) -> None:
    comment = RoleClaim(Role.BUNDLE_MANIFEST, subject).trusted_comment("resigned")
    (root / ".packseal/manifest.json").write_bytes(statement)
    (root / ".packseal/manifest.json.minisig").write_bytes(sign(key_pair.secret_key, statement, comment))


def _subject_is_not_the_tree(root: Path, key_pair) -> None:
    manifest = directory_manifest(root)
    statement = Statement(
        (Subject("pack", "0" * 64),), manifest_statement("pack", manifest).predicate_type, manifest.to_json()
    )
    _resign_statement(root, key_pair, statement.to_bytes(), "0" * 64)


def _signed_other_manifest(root: Path, key_pair) -> None:
    manifest = directory_manifest(root)
    fewer = Manifest.from_entries(entry for entry in manifest.entries if entry.path != "README.md")
    _resign_statement(root, key_pair, manifest_statement("pack", fewer).to_bytes(), fewer.digest)


REFUSALS = {
    "extra file in .packseal": (
        lambda r, k: (r / ".packseal/notes.txt").write_bytes(b""),
        "layout",
        "unexpected entry: .packseal/notes.txt",
    ),
    "subdirectory in .packseal": (
        lambda r, k: (r / ".packseal/sub").mkdir(),
        "layout",
        "unexpected entry: .packseal/sub",
    ),
    "symlink named manifest.json.minisig": (
        lambda r, k: _symlinked_signature(r),
        "layout",
        "not a regular file: .packseal/manifest.json.minisig",
    ),
    ".packseal missing": (lambda r, k: shutil.rmtree(r / ".packseal"), "layout", ".packseal/ is missing"),
    ".packseal a file": (lambda r, k: _signature_dir_is_a_file(r), "layout", ".packseal is not a directory"),
    ".packseal a symlink": (lambda r, k: _signature_dir_is_a_link(r), "layout", ".packseal is not a directory"),
    "signature missing": (
        lambda r, k: (r / ".packseal/manifest.json.minisig").unlink(),
        "signature",
        "cannot read signature file",
    ),
    "manifest missing": (lambda r, k: (r / ".packseal/manifest.json").unlink(), "signature", "missing"),
    "manifest changed": (
        lambda r, k: (r / ".packseal/manifest.json").write_bytes(b"{}"),
        "signature",
        "does not verify",
    ),
    "subject is not the tree digest": (_subject_is_not_the_tree, "statement", "not the tree digest"),
    "file content changed": (
        lambda r, k: (r / "docs/guide.md").write_bytes(b"Read me!\n"),
        "files",
        "changed: docs/guide.md",
    ),
    "file missing": (lambda r, k: (r / "README.md").unlink(), "files", "missing: README.md"),
    "extra file": (lambda r, k: (r / "docs/extra.md").write_bytes(b""), "files", "extra: docs/extra.md"),
    "executable bit flipped": (lambda r, k: (r / "bin/run").chmod(0o644), "files", "executable bit changed: bin/run"),
    "link became a file": (
        lambda r, k: _replace_with_file(r / "docs/latest.md"),
        "files",
        "type changed: docs/latest.md",
    ),
    "link retargeted": (
        lambda r, k: ((r / "docs/latest.md").unlink(), os.symlink("../README.md", r / "docs/latest.md")),
        "files",
        "link target changed: docs/latest.md",
    ),
    "FIFO added": (lambda r, k: os.mkfifo(r / "pipe"), "files", "FIFO cannot be part of a bundle"),
    "signed manifest of other files": (_signed_other_manifest, "files", "extra: README.md"),
}


@pytest.mark.parametrize(("tamper", "refusing_check", "detail"), REFUSALS.values(), ids=REFUSALS.keys())
def test_a_refusal_stops_at_the_first_failed_check(signed_bundle, policy, key_pair, tamper, refusing_check, detail):
    tamper(signed_bundle, key_pair)
    verdict = verify_bundle(signed_bundle, policy)
    assert not verdict.verified
    ran = DIRECTORY_CHECKS[: DIRECTORY_CHECKS.index(refusing_check) + 1]
    assert [check.name for check in verdict.checks] == ran
    assert [check.ok for check in verdict.checks] == [True] * (len(ran) - 1) + [False]
    assert verdict.refusal == verdict.checks[-1]
    assert detail in verdict.refusal.detail


def test_a_bundle_signed_by_an_untrusted_key_is_refused(signed_bundle, other_key_pair, key_pair):
    verdict = verify_bundle(signed_bundle, TrustPolicy((MinisignKeyring([other_key_pair.public_key]),)))
    assert not verdict.verified
    assert [(check.name, check.ok) for check in verdict.checks] == [("layout", True), ("signature", False)]
    assert f"signed by key {key_id(key_pair.public_key)}, which is not trusted" in verdict.refusal.detail
    assert verdict.signers == () and verdict.digest is None
    assert verdict.refusal.data == {"signatures": [str(signed_bundle / ".packseal/manifest.json.minisig")]}


def test_a_signature_given_apart_from_the_bundle_is_used(signed_bundle, policy, tmp_path):
    apart = tmp_path / "apart.minisig"
    shutil.move(signed_bundle / ".packseal/manifest.json.minisig", apart)
    assert verify_bundle(signed_bundle, policy, signatures=SignaturePaths(minisign=apart)).verified


def test_a_missing_bundle_is_an_error(tmp_path, policy):
    with pytest.raises(BundleError, match="no such file or directory"):
        verify_bundle(tmp_path / "none", policy)


@pytest.mark.parametrize(
    "checks",
    [(), (Check("layout", False, "x"),), (Check("layout", True, ""), Check("signature", False, "x"))],
    ids=["no checks", "one failed", "last failed"],
)
def test_a_verdict_is_not_verified_unless_every_check_passed(checks):
    assert not Verdict(Path("b"), checks).verified


# --- single files ----------------------------------------------------------------------


@pytest.fixture
def signed_file(tmp_path, key_pair) -> Path:
    path = tmp_path / "pack.tar"
    path.write_bytes(b"archive bytes")
    sign_with_minisign(path, key_pair.secret_key, trusted_comment="file")
    return path


def test_a_signed_file_is_verified(signed_file, policy):
    verdict = verify_bundle(signed_file, policy)
    assert verdict.verified
    assert [check.name for check in verdict.checks] == ["signature"]
    assert verdict.digest == f"sha256:{hashlib.sha256(b'archive bytes').hexdigest()}"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda p: p.write_bytes(b"archive bytez"),
        lambda p: p.with_name("pack.tar.minisig").unlink(),
        lambda p: (p.rename(p.with_name("real")), os.symlink("real", p)),
    ],
    ids=["content changed", "signature missing", "file is a symlink"],
)
def test_a_tampered_file_is_refused(signed_file, policy, tamper):
    tamper(signed_file)
    verdict = verify_bundle(signed_file, policy)
    assert not verdict.verified
    assert [(check.name, check.ok) for check in verdict.checks] == [("signature", False)]


def test_a_fifo_as_signature_is_refused_without_hanging(signed_file, policy):
    """An attacker who controls the directory must not be able to make verification block forever."""
    minisig = signed_file.with_name("pack.tar.minisig")
    minisig.unlink()
    os.mkfifo(minisig)
    verdicts = []
    worker = threading.Thread(target=lambda: verdicts.append(verify_bundle(signed_file, policy)), daemon=True)
    worker.start()
    worker.join(timeout=5)
    hung = worker.is_alive()
    if hung:  # release the blocked open(), so the thread ends
        os.close(os.open(minisig, os.O_WRONLY))
        worker.join(timeout=5)
    assert not hung, "verify_bundle blocked opening a FIFO named as the signature"
    assert not verdicts[0].verified


def test_a_files_refusal_lists_the_paths_for_a_program(signed_bundle, policy):
    (signed_bundle / "README.md").write_bytes(b"changed")
    (signed_bundle / "extra.txt").write_bytes(b"not signed")
    (signed_bundle / "docs/guide.md").unlink()
    refusal = verify_bundle(signed_bundle, policy).refusal
    assert refusal.name == "files"
    assert refusal.data == {"changed": ["README.md"], "missing": ["docs/guide.md"], "extra": ["extra.txt"]}
    assert "changed: README.md" in refusal.detail


def test_check_names_are_stable_identifiers():
    assert all(re.fullmatch("[a-z]+(-[a-z]+)*", name) for name in CheckName)
