"""sign and attest through the Python API: what verification would refuse is refused first, before writing.

A signature that can never verify is worse than a refusal: the maintainer
publishes it believing the bundle is signed. So every rule of verification
that depends only on the bundle runs at signing time too, from the same
code, before a single byte is written.
"""

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from trees import snapshot, tree_with_a_manifest_over_the_limit

from attest.canonical import MAX_DOCUMENT_BYTES
from attest.provenance import LOCAL_BUILD_TYPE, BuildFacts
from signing.backends.minisign import MinisignSigning
from signing.errors import BundleError, OutputError
from signing.pins import SourcePin
from signing.sign import attest_bundle, sign_bundle, sign_with_minisign
from signing.verify import verify_bundle

TREE = {"README.md": b"# pack\n", "bin/run": (b"#!/bin/sh\necho hi\n", 0o755), "docs/latest.md": "../README.md"}

FACTS = BuildFacts(
    source_repository="https://github.com/acme/pack",
    source_commit="0123456789abcdef0123456789abcdef01234567",
    source_ref="refs/heads/main",
    builder_id="https://example.test/builder",
    build_type=LOCAL_BUILD_TYPE,
)


def _attest(path: Path, key_pair) -> None:
    attest_bundle(path, FACTS, MinisignSigning(key_pair.secret_key, "provenance"), started_on=datetime.now(UTC))


def _sign(path: Path, key_pair) -> None:
    sign_with_minisign(path, key_pair.secret_key, trusted_comment="test pack")


SIGNERS = [pytest.param(_sign, id="sign"), pytest.param(_attest, id="attest")]


# --- .packseal a symlink ----------------------------------------------------------------


@pytest.mark.parametrize("write", SIGNERS)
def test_a_signature_dir_that_is_a_symlink_to_a_directory_outside_is_refused(tmp_path, make_tree, key_pair, write):
    root = make_tree(tmp_path / "pack", TREE)
    outside = make_tree(tmp_path / "outside", {"manifest.json": b"not packseal's\n", "notes.txt": b"mine\n"})
    (root / ".packseal").symlink_to(outside)
    before = snapshot(tmp_path)

    with pytest.raises(BundleError, match=r"\.packseal is not a directory: it is a symlink"):
        write(root, key_pair)

    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("write", SIGNERS)
def test_a_signature_dir_that_is_a_file_is_refused(tmp_path, make_tree, key_pair, write):
    root = make_tree(tmp_path / "pack", {**TREE, ".packseal": b"a file\n"})
    before = snapshot(tmp_path)

    with pytest.raises(BundleError, match=r"\.packseal is not a directory"):
        write(root, key_pair)

    assert snapshot(tmp_path) == before


# --- .packseal holding what is not packseal's --------------------------------------------


@pytest.mark.parametrize(
    ("stray", "content"),
    [
        (".manifest.json.k3x9q_2a.tmp", b"half a manifest"),
        (".manifest.json.minisig.a1b2c3.previous", b"an old signature"),
        ("install-hook.sh", b"#!/bin/sh\n"),
        ("manifest.json.bak", b"{}"),
        ("cache/x", b"a directory"),
        ("notes", "../README.md"),
    ],
    ids=["interrupted-sign-leftover", "rename-leftover", "hook", "backup", "directory", "link"],
)
@pytest.mark.parametrize("write", SIGNERS)
def test_anything_in_the_signature_dir_that_verification_refuses_is_refused(
    tmp_path, make_tree, key_pair, write, stray, content
):
    root = make_tree(tmp_path / "pack", {**TREE, f".packseal/{stray}": content})
    before = snapshot(tmp_path)
    name = stray.split("/")[0]

    with pytest.raises(BundleError, match=rf"\.packseal/{name}\b.*remove it"):
        write(root, key_pair)

    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    "name", ["manifest.sigstore.json", "manifest.json.minisig", "provenance.sigstore.json", "manifest.json"]
)
@pytest.mark.parametrize("write", SIGNERS)
def test_a_known_signature_name_that_is_a_directory_is_refused_before_writing(
    signed_bundle, tmp_path, key_pair, write, name
):
    target = signed_bundle / ".packseal" / name
    target.unlink(missing_ok=True)
    target.mkdir()
    (signed_bundle / "README.md").write_bytes(b"# changed, so every Statement is rewritten\n")
    before = snapshot(tmp_path)

    with pytest.raises(BundleError, match=rf"not a regular file: \.packseal/{name}\b"):
        write(signed_bundle, key_pair)

    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name", ["tool.tar.provenance.sigstore.json", "tool.tar.provenance.json.minisig"])
def test_a_file_bundles_signature_name_that_is_a_directory_is_refused_before_writing(tmp_path, key_pair, name):
    bundle = tmp_path / "tool.tar"
    bundle.write_bytes(b"archive bytes")
    (tmp_path / name).mkdir()
    before = snapshot(tmp_path)

    with pytest.raises(OutputError, match=rf"{name}: a directory is where packseal writes a file"):
        _attest(bundle, key_pair)

    assert snapshot(tmp_path) == before


def test_a_clean_signature_dir_is_signed_again(signed_bundle, key_pair):
    """The check refuses strays, not packseal's own files: re-signing a signed bundle works."""
    _sign(signed_bundle, key_pair)
    _attest(signed_bundle, key_pair)
    assert sorted(os.listdir(signed_bundle / ".packseal")) == [
        "manifest.json",
        "manifest.json.minisig",
        "provenance.json",
        "provenance.json.minisig",
    ]


# --- names Windows cannot hold --------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "CON",
        "con.txt",
        "NUL",
        "COM1",
        "LPT9.log",
        "run.bat.",
        "run.bat ",
        "a:b",
        "a<b",
        "a>b",
        'a"b',
        "a|b",
        "a?b",
        "a*b",
    ],
)
def test_a_name_windows_cannot_hold_is_not_signed(tmp_path, make_tree, key_pair, name):
    root = make_tree(tmp_path / "pack", {**TREE, f"docs/{name}": b"x"})

    with pytest.raises(BundleError, match=rf"pack: 'docs/{re.escape(name)}': .*Windows"):
        _sign(root, key_pair)

    assert not (root / ".packseal").exists()


# --- one size limit on both sides ---------------------------------------------------------


@pytest.mark.slow  # 17,600 files since the limit became 64 MiB (issue 13)
def test_a_bundle_whose_manifest_verification_would_refuse_as_too_large_is_not_signed(tmp_path, key_pair):
    root = tree_with_a_manifest_over_the_limit(tmp_path / "pack")

    with pytest.raises(
        BundleError, match=rf"pack: manifest.json would be \d+ bytes, over the {MAX_DOCUMENT_BYTES} byte limit"
    ):
        _sign(root, key_pair)

    assert not (root / ".packseal").exists()


# --- signatures stored apart (output_dir / signatures_dir) --------------------------------


@pytest.mark.parametrize("kind", ["directory", "file"])
def test_signed_and_attested_apart_verifies_only_from_there(tmp_path, make_tree, key_pair, policy, kind):
    root = make_tree(tmp_path / "pack", TREE)
    bundle = root if kind == "directory" else root / "README.md"
    before = snapshot(root)
    sigs = tmp_path / "sigs"
    signing = MinisignSigning(key_pair.secret_key, "apart")

    sign_bundle(bundle, signing, output_dir=sigs)
    attest_bundle(bundle, FACTS, signing, started_on=datetime.now(UTC), output_dir=sigs)

    assert snapshot(root) == before
    pin = SourcePin(FACTS.source_repository, FACTS.source_commit, builder_id=FACTS.builder_id)
    assert verify_bundle(bundle, policy, pin=pin, signatures_dir=sigs)
    assert not verify_bundle(bundle, policy)
    if kind == "directory":
        (root / ".packseal").mkdir()
        planted = verify_bundle(bundle, policy, signatures_dir=sigs)
        assert not planted and planted.refusal is not None and planted.refusal.name == "layout"
