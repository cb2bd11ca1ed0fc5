"""Guards of `verify_bundle` that only a hostile or broken input reaches (issue 9, section 10).

Mutation testing found each of these could be deleted with every test still
passing; each test here fails when its guard is removed.
"""

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest
from unprivileged import run_python_unprivileged

from attest.provenance import BuildFacts
from signing.backends.minisign import MinisignKeyring, MinisignSigner, MinisignSigning, key_id, sign
from signing.bundle import directory_manifest
from signing.digest import FileDigest
from signing.errors import TrustPolicyError
from signing.pins import SourcePin
from signing.policy import AllOf, TrustPolicy
from signing.sign import attest_bundle, sign_with_minisign
from signing.verify import SignaturePaths, verify_bundle


@pytest.fixture
def signed_file(tmp_path, key_pair) -> Path:
    path = tmp_path / "pack.tar"
    path.write_bytes(b"archive bytes")
    sign_with_minisign(path, key_pair.secret_key, trusted_comment="file")
    return path


# --- a file read once per verifier must be the same file each time ----------------------


@dataclasses.dataclass
class _SwapsTheFileAfterVerifying:
    """A real keyring that, once it has verified the file, replaces it with other content the same key signed.

    This is what an attacker who can write the bundle's directory does
    between the reads of two verifiers: each signature alone is valid.
    """

    keyring: MinisignKeyring
    secret_key: object
    system = "minisign"

    def statement_signature(self, statement_path: Path) -> Path:
        return self.keyring.statement_signature(statement_path)

    def file_signature(self, path: Path) -> Path:
        return self.keyring.file_signature(path)

    def verify_statement(self, statement: bytes, signature: Path) -> MinisignSigner:
        return self.keyring.verify_statement(statement, signature)

    def verify_file(self, path: Path, signature: Path) -> tuple[MinisignSigner, FileDigest]:
        result = self.keyring.verify_file(path, signature)
        path.write_bytes(b"other archive bytes")
        signature.write_bytes(sign(self.secret_key, b"other archive bytes", "other file"))
        return result


def test_a_file_that_changes_between_two_verifiers_is_refused(signed_file, key_pair):
    keyring = MinisignKeyring([key_pair.public_key])
    policy = TrustPolicy((_SwapsTheFileAfterVerifying(keyring, key_pair.secret_key), keyring))

    verdict = verify_bundle(signed_file, policy)

    assert not verdict.verified
    assert [(check.name, check.ok) for check in verdict.checks] == [("signature", False)]
    assert verdict.refusal.detail == f"{signed_file}: changed while it was being verified"
    assert verdict.digest is None


def test_a_file_read_by_two_verifiers_unchanged_is_verified(signed_file, key_pair):
    """The same two verifiers, without the swap: the refusal above is about the change, not the pair."""
    keyring = MinisignKeyring([key_pair.public_key])
    verdict = verify_bundle(signed_file, TrustPolicy((keyring, keyring)))
    assert verdict.verified
    signer = f"minisign key {key_id(key_pair.public_key)}"
    assert [str(s) for s in verdict.signers] == [signer, signer]
    comment = f"packseal file {verdict.digest} file"
    assert (
        verdict.checks[0].detail
        == f"signed by trusted {signer}, trusted comment: {comment}; trusted {signer}, trusted comment: {comment}"
    )


def test_a_file_signature_given_apart_from_the_file_is_used(signed_file, key_pair, tmp_path):
    apart = tmp_path / "apart.minisig"
    signed_file.with_name("pack.tar.minisig").rename(apart)
    policy = TrustPolicy((MinisignKeyring([key_pair.public_key]),))
    assert not verify_bundle(signed_file, policy).verified
    assert verify_bundle(signed_file, policy, signatures=SignaturePaths(minisign=apart)).verified


# --- a source pin is never dropped ------------------------------------------------------


_PIN = SourcePin(repository="https://github.com/acme/pack", commit="0" * 40)


def test_a_pinned_directory_without_provenance_is_refused(signed_bundle, policy):
    verdict = verify_bundle(signed_bundle, policy, pin=_PIN)
    assert not verdict.verified
    assert [check.name for check in verdict.checks] == ["layout", "signature", "statement", "files", "provenance"]
    assert "a source pin requires signed provenance" in verdict.refusal.detail


def test_a_pinned_file_without_provenance_is_refused(signed_file, key_pair):
    verdict = verify_bundle(signed_file, TrustPolicy((MinisignKeyring([key_pair.public_key]),)), pin=_PIN)
    assert not verdict.verified
    assert [check.name for check in verdict.checks] == ["signature", "provenance"]
    assert "a source pin requires signed provenance" in verdict.refusal.detail


# --- a policy with no verifier: refused when built, and again when used -----------------


@pytest.mark.parametrize("verifiers", [(), iter(())], ids=["empty tuple", "spent iterator"])
def test_a_policy_with_no_verifier_cannot_be_built(verifiers):
    with pytest.raises(TrustPolicyError, match="no trusted signer given"):
        TrustPolicy(verifiers)


def _policy_without_verifiers() -> TrustPolicy:
    """What `TrustPolicy` refuses to build; made anyway, to show verification refuses it on its own."""
    policy = object.__new__(TrustPolicy)
    object.__setattr__(policy, "verifiers", ())
    object.__setattr__(policy, "source", AllOf())
    return policy


def test_verification_refuses_a_policy_with_no_verifier_even_if_one_was_built(signed_bundle):
    verdict = verify_bundle(signed_bundle, _policy_without_verifiers())

    assert not verdict.verified
    assert [(check.name, check.ok) for check in verdict.checks] == [("layout", True), ("signature", False)]
    assert verdict.refusal.detail == "the trust policy names no signer"


def test_verification_of_a_file_refuses_a_policy_with_no_verifier(signed_file):
    verdict = verify_bundle(signed_file, _policy_without_verifiers())

    assert not verdict.verified
    assert verdict.refusal.detail == "the trust policy names no signer"


# --- an unreadable file is refused in one line, not a PermissionError ---------------------


def test_an_unreadable_signed_file_is_refused_in_one_line(signed_file, key_pair):
    """Issue 9, section 10: minisign's `verify_file` let EACCES escape `verify_bundle`."""
    signed_file.chmod(0)
    public_key = bytes(key_pair.public_key).decode()
    result = run_python_unprivileged(
        f"""
        from pathlib import Path
        import minisign
        from signing.backends.minisign import MinisignKeyring
        from signing.policy import TrustPolicy
        from signing.verify import verify_bundle
        policy = TrustPolicy((MinisignKeyring([minisign.PublicKey.from_bytes({public_key!r}.encode())]),))
        verdict = verify_bundle(Path({str(signed_file)!r}), policy)
        print(verdict.verified, [(check.name, check.detail) for check in verdict.checks])
        """
    )
    signed_file.chmod(0o644)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"False [('signature', '{signed_file}: Permission denied')]\n"


_FACTS = BuildFacts(
    source_repository="https://github.com/acme/pack",
    source_commit="0123456789abcdef0123456789abcdef01234567",
    source_ref="refs/tags/v1.0",
    builder_id="https://ci.example/builder",
    build_type="https://packseal.dev/build/local/v1",
)
_MATCHING_PIN = SourcePin(
    repository="git+https://github.com/acme/pack.git",
    commit=_FACTS.source_commit,
    ref=_FACTS.source_ref,
    builder_id=_FACTS.builder_id,
)
_OTHER = "fedcba9876543210" * 2 + "fedcba98"

PIN_REFUSALS = {
    "lock-digest": ({"digest": "0" * 64}, "bundle digest is "),
    "provenance-subject": (None, "provenance is about sha256:"),
    "source-repository": (
        {"repository": "https://github.com/acme/other"},
        "source repository is 'github.com/acme/pack', pinned 'github.com/acme/other'",
    ),
    "source-commit": ({"commit": _OTHER}, f"source commit is '{_FACTS.source_commit}', pinned '{_OTHER}'"),
    "source-ref": ({"ref": "refs/tags/v2.0"}, "source ref is 'refs/tags/v1.0', pinned 'refs/tags/v2.0'"),
    "builder": ({"builder_id": "https://ci.example/other"}, "builder id is 'https://ci.example/builder'"),
}


@pytest.fixture
def attested_bundle(signed_bundle, key_pair) -> Path:
    attest_bundle(signed_bundle, _FACTS, MinisignSigning(key_pair.secret_key), started_on=datetime.now(UTC))
    return signed_bundle


def test_a_bundle_whose_provenance_matches_every_pinned_field_is_verified(attested_bundle, policy):
    digest = directory_manifest(attested_bundle).digest
    verdict = verify_bundle(attested_bundle, policy, pin=dataclasses.replace(_MATCHING_PIN, digest=digest))
    assert verdict.verified, verdict.refusal
    assert [check.name for check in verdict.checks][4:] == ["lock-digest", "provenance", *list(PIN_REFUSALS)[1:]]
    assert verdict.checks[6].detail == f"provenance subject is this bundle, sha256:{digest}"
    assert verdict.checks[7].detail == "source repository github.com/acme/pack"


@pytest.mark.parametrize(
    ("refusing_check", "change", "detail"), [(k, *v) for k, v in PIN_REFUSALS.items()], ids=list(PIN_REFUSALS)
)
def test_each_pinned_field_is_checked(attested_bundle, policy, key_pair, refusing_check, change, detail):
    if change is None:  # provenance of other content: the bundle changed after it was attested, then re-signed
        (attested_bundle / "README.md").write_bytes(b"changed after attesting\n")
        sign_with_minisign(attested_bundle, key_pair.secret_key, trusted_comment="re-signed")
        change = {}
    verdict = verify_bundle(attested_bundle, policy, pin=dataclasses.replace(_MATCHING_PIN, **change))
    assert not verdict.verified
    assert verdict.refusal.name == refusing_check
    assert detail in verdict.refusal.detail
    assert set(verdict.refusal.data) == {"expected", "actual"}
    pinned = {**dataclasses.asdict(_MATCHING_PIN), **change}
    if refusing_check == "source-commit":
        assert verdict.refusal.data == {"expected": _OTHER, "actual": _FACTS.source_commit}
    elif refusing_check == "lock-digest":
        assert verdict.refusal.data["expected"] == f"sha256:{pinned['digest']}"
