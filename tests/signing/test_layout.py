"""Where a bundle's signatures live: a path inside `.packseal/` is never a bundle, to sign or to verify."""

import os
from pathlib import Path

import pytest

from signing.errors import BundleError
from signing.layout import resolve_bundle
from signing.sign import sign_with_minisign
from signing.verify import verify_bundle


def _manifest(bundle: Path) -> Path:
    return bundle / ".packseal" / "manifest.json"


def _link_to_manifest(bundle: Path) -> Path:
    link = bundle.parent / "manifest-link.json"
    link.symlink_to(_manifest(bundle))
    return link


def _through_a_linked_signature_dir(bundle: Path) -> Path:
    """`.packseal` itself a link: the resolved path no longer says `.packseal`, the given one does."""
    elsewhere = bundle.parent / "elsewhere"
    (bundle / ".packseal").rename(elsewhere)
    (bundle / ".packseal").symlink_to(elsewhere)
    return _manifest(bundle)


def _nested(bundle: Path) -> Path:
    inner = bundle / ".packseal" / "sub" / "pack"
    inner.mkdir(parents=True)
    (inner / "file").write_bytes(b"x")
    return inner


def _upper_case(bundle: Path) -> Path:
    (bundle / ".packseal").rename(bundle / ".PACKSEAL")
    return bundle / ".PACKSEAL" / "manifest.json"


INSIDE = [
    pytest.param(_manifest, id="the manifest"),
    pytest.param(lambda b: b / ".packseal" / "manifest.json.minisig", id="its signature"),
    pytest.param(lambda b: b / ".packseal", id="the directory itself"),
    pytest.param(_nested, id="a directory deeper inside"),
    pytest.param(_link_to_manifest, id="a link into it"),
    pytest.param(_through_a_linked_signature_dir, id="through a linked .packseal"),
    pytest.param(_upper_case, id="in another letter case"),
]


@pytest.mark.parametrize("inside", INSIDE)
def test_verify_refuses_a_path_inside_the_signature_dir(signed_bundle, policy, inside):
    path = inside(signed_bundle)
    with pytest.raises(BundleError, match=r"inside \.packseal/, which holds signatures, not bundles"):
        verify_bundle(path, policy)


def test_verifying_the_manifest_as_a_file_cannot_vouch_for_a_tampered_bundle(signed_bundle, policy):
    (signed_bundle / "README.md").write_bytes(b"# tampered\n")
    assert not verify_bundle(signed_bundle, policy).verified
    with pytest.raises(BundleError, match="holds signatures, not bundles"):
        verify_bundle(signed_bundle / ".packseal" / "manifest.json", policy)


@pytest.mark.parametrize("inside", INSIDE)
def test_sign_refuses_a_path_inside_the_signature_dir(signed_bundle, key_pair, inside):
    path = inside(signed_bundle)
    with pytest.raises(BundleError, match=r"inside \.packseal/, which holds signatures, not bundles"):
        sign_with_minisign(path, key_pair.secret_key)


@pytest.mark.parametrize("path", ["pack", "pack/.packseal-notes", "pack/sub.packseal/x", ".packseal.d/pack"])
def test_a_name_that_merely_contains_packseal_is_a_bundle(tmp_path, path):
    bundle = tmp_path / path
    bundle.mkdir(parents=True)
    assert resolve_bundle(bundle) == bundle.resolve()


def test_a_missing_bundle_is_refused(tmp_path):
    with pytest.raises(BundleError, match="no such file or directory"):
        resolve_bundle(tmp_path / "none")
    os.symlink("none", tmp_path / "dangling")
    with pytest.raises(BundleError, match="no such file or directory"):
        resolve_bundle(tmp_path / "dangling")
