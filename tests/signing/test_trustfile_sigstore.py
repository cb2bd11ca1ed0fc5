"""Sigstore identities in the trust policy file, against the local Sigstore instance.

Each pack is signed for real through the local Fulcio and Rekor, with a
GitHub Actions token whose claims the test chooses; the policy file's
identity globs are what varies.
"""

from __future__ import annotations

from pathlib import Path

import minisign
import pytest
from sigstore.oidc import IdentityToken
from sigstore_local import SigstoreInstance

from signing.backends.sigstore import SigstoreInstance as PacksealInstance
from signing.sign import sign_with_minisign, sign_with_sigstore
from signing.trustfile import TrustFile
from signing.verify import Verdict, verify_bundle

pytestmark = pytest.mark.sigstore_local

RELEASE = "https://github.com/acme/packs/.github/workflows/release.yml@refs/tags/v*"
SHA = "0123456789abcdef0123456789abcdef01234567"


def signed_pack(directory: Path, instance: SigstoreInstance, token: str, name: str = "acme-pack") -> Path:
    pack = directory / name
    (pack / "bin").mkdir(parents=True)
    (pack / "README.md").write_bytes(b"# pack\n")
    (pack / "bin" / "run").write_bytes(b"#!/bin/sh\n")
    sign_with_sigstore(pack, PacksealInstance(trust_config=instance.trust_config), IdentityToken(token))
    return pack


@pytest.fixture(scope="module")
def tag_signed(sigstore_instance: SigstoreInstance, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Signed by acme/packs' release workflow on tag v1.2.0."""
    token = sigstore_instance.mint_github_token(repository="acme/packs", ref="refs/tags/v1.2.0", sha=SHA)
    return signed_pack(tmp_path_factory.mktemp("tag"), sigstore_instance, token)


def verify(pack: Path, instance: SigstoreInstance, directory: Path, *entries: str, extra: str = "") -> Verdict:
    """Verify `pack` with a policy whose one publisher lists `entries` as its sigstore identities."""
    policy = directory / "trust.toml"
    identities = ",\n".join(f"  {{ {entry} }}" for entry in entries)
    policy.write_text(f'[[publisher]]\nname = "acme"\nbundles = ["acme-*"]\nsigstore = [\n{identities}\n]\n{extra}')
    trust_file = TrustFile.load(policy, sigstore=PacksealInstance(trust_config=instance.trust_config))
    return verify_bundle(pack, trust_file)


def github(identity: str, instance: SigstoreInstance, repository: str | None = None) -> str:
    pinned = "" if repository is None else f', github_repository = "{repository}"'
    return f'identity = "{identity}", issuer = "{instance.github_issuer}"{pinned}'


def test_an_identity_glob_accepts_the_release_workflow_on_a_tag(tag_signed, sigstore_instance, tmp_path):
    verdict = verify(tag_signed, sigstore_instance, tmp_path, github(RELEASE, sigstore_instance, "acme/packs"))
    assert verdict.verified, verdict.refusal
    assert verdict.publisher == "acme"
    assert [signer.to_json()["identity"] for signer in verdict.signers] == [
        "https://github.com/acme/packs/.github/workflows/release.yml@refs/tags/v1.2.0"
    ]


@pytest.mark.parametrize(
    "identity",
    [
        "https://github.com/acme/packs/.github/workflows/release.yml@refs/heads/*",
        "https://github.com/acme/packs/.github/workflows/release.yml@refs/tags/v2*",
        "https://github.com/acme/packs/.github/workflows/release.yml",  # a prefix is not the identity
    ],
)
def test_an_identity_glob_that_does_not_match_the_whole_identity_refuses(
    tag_signed, sigstore_instance, tmp_path, identity
):
    verdict = verify(tag_signed, sigstore_instance, tmp_path, github(identity, sigstore_instance))
    assert verdict.refusal.name == "signature"
    assert "identity" in verdict.refusal.detail


def test_any_one_listed_identity_may_sign(tag_signed, sigstore_instance, tmp_path):
    entries = (
        f'identity = "alice@example.com", issuer = "{sigstore_instance.email_issuer}"',
        github(RELEASE, sigstore_instance),
    )
    assert verify(tag_signed, sigstore_instance, tmp_path, *entries).verified
    refused = verify(tag_signed, sigstore_instance, tmp_path, entries[0], entries[0].replace("alice", "bob"))
    assert refused.refusal.name == "signature"
    assert "is none of the 2 trusted identities" in refused.refusal.detail


def test_a_glob_star_does_not_cross_an_at_sign_into_a_branch(sigstore_instance, tmp_path):
    """A branch named `x@refs/tags/v1` makes the identity `...release.yml@refs/heads/x@refs/tags/v1`.

    With `*` matching anything, `.../workflows/*@refs/tags/v*` would accept
    that branch push as a tag release; `*` stops at `@` and `/`.
    """
    token = sigstore_instance.mint_github_token(repository="acme/packs", ref="refs/heads/x@refs/tags/v1", sha=SHA)
    branch_signed = signed_pack(tmp_path / "branch", sigstore_instance, token)
    pattern = "https://github.com/acme/packs/.github/workflows/*@refs/tags/v*"

    verdict = verify(branch_signed, sigstore_instance, tmp_path, github(pattern, sigstore_instance))

    assert verdict.refusal.name == "signature"
    assert "refs/heads/x@refs/tags/v1 is not a full match of" in verdict.refusal.detail


def test_a_reusable_workflow_called_from_another_repository_is_refused_by_its_repository_pin(
    sigstore_instance, tmp_path
):
    token = sigstore_instance.mint_github_token(
        repository="mallory/fork",
        ref="refs/tags/v1.2.0",
        sha=SHA,
        job_workflow_ref="acme/packs/.github/workflows/release.yml@refs/tags/v1.2.0",
    )
    called_elsewhere = signed_pack(tmp_path / "fork", sigstore_instance, token)

    unpinned = verify(called_elsewhere, sigstore_instance, tmp_path, github(RELEASE, sigstore_instance))
    pinned = verify(called_elsewhere, sigstore_instance, tmp_path, github(RELEASE, sigstore_instance, "acme/packs"))

    assert unpinned.verified  # the identity alone is acme's: why the pin exists
    assert pinned.refusal.name == "signature"
    assert "github claims: Certificate's GitHubWorkflowRepository does not match (got 'mallory/fork'" in (
        pinned.refusal.detail
    )


def test_a_publisher_listing_both_systems_requires_both(tag_signed, sigstore_instance, tmp_path):
    key_pair = minisign.KeyPair.generate()
    (tmp_path / "release.pub").write_bytes(bytes(key_pair.public_key) + b"\n")
    both = 'minisign_keys = ["release.pub"]\n'

    sigstore_only = verify(tag_signed, sigstore_instance, tmp_path, github(RELEASE, sigstore_instance), extra=both)
    assert sigstore_only.refusal.name == "signature"
    assert "manifest.json.minisig" in sigstore_only.refusal.detail

    sign_with_minisign(tag_signed, key_pair.secret_key)
    try:
        verdict = verify(tag_signed, sigstore_instance, tmp_path, github(RELEASE, sigstore_instance), extra=both)
        assert verdict.verified, verdict.refusal
        assert sorted(signer.to_json()["system"] for signer in verdict.signers) == ["minisign", "sigstore"]
    finally:
        (tag_signed / ".packseal" / "manifest.json.minisig").unlink()
