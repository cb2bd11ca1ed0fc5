"""The OIDC issuer a Sigstore certificate names, as packseal's policy reads it.

Fulcio writes the issuer twice: .1.1 (raw bytes, deprecated) and .1.8 (a
DER UTF8String). The issuer is read from .1.8, else from .1.1, the same way
for an exact issuer and for a regexp; a certificate with neither has no
issuer and is refused, whatever the pattern (`.*` matches the empty string).
The certificates come from local instances whose Fulcio omits one or both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat import asn1
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sigstore.errors import VerificationError
from sigstore.models import Bundle
from sigstore.oidc import IdentityToken
from sigstore_local import SigstoreInstance as LocalSigstore
from sigstore_local import running_instance

from signing.backends.sigstore import (
    SigstoreIdentityPolicy,
    SigstoreInstance,
    SigstoreSigner,
    SigstoreSigning,
    SigstoreVerifier,
)
from signing.digest import file_digest
from signing.errors import SignatureError

pytestmark = pytest.mark.sigstore_local

ALICE = "alice@example.com"
ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
Signed = tuple[LocalSigstore, Path]
"""A local instance and a file it signed as alice."""


@contextmanager
def signed_by_instance(directory: Path, issuer_arcs: frozenset[int]) -> Iterator[Signed]:
    """A file signed as alice by an instance whose certificates carry only the issuer extensions `issuer_arcs`."""
    with running_instance(directory, issuer_arcs=issuer_arcs) as instance:
        artifact = directory / "artifact.bin"
        artifact.write_bytes(b"release\n")
        token = IdentityToken(instance.mint_token(ALICE))
        bundle, data = SigstoreSigning(SigstoreInstance(trust_config=instance.trust_config), token).sign_file(
            artifact, file_digest(artifact), "artifact.bin"
        )
        bundle.write_bytes(data)
        yield instance, artifact


@pytest.fixture(scope="module")
def without_issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Signed]:
    with signed_by_instance(tmp_path_factory.mktemp("no-issuer"), frozenset()) as signed:
        assert not issuer_extensions(signed)
        yield signed


@pytest.fixture(scope="module", params=[ISSUER_V1, ISSUER_V2], ids=["v1 only", "v2 only"])
def with_one_issuer(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Signed]:
    oid: x509.ObjectIdentifier = request.param
    arc = int(oid.dotted_string.rsplit(".", 1)[1])
    with signed_by_instance(tmp_path_factory.mktemp("one-issuer"), frozenset({arc})) as signed:
        assert issuer_extensions(signed) == {oid}
        yield signed


def issuer_extensions(signed: Signed) -> set[x509.ObjectIdentifier]:
    _, artifact = signed
    bundle = Bundle.from_json(Path(f"{artifact}.sigstore.json").read_bytes())
    return {extension.oid for extension in bundle.signing_certificate.extensions} & {ISSUER_V1, ISSUER_V2}


def verify(signed: Signed, **issuer: str) -> SigstoreSigner:
    instance, artifact = signed
    verifier = SigstoreVerifier(
        SigstoreInstance(trusted_root=instance.trusted_root, offline=True),
        SigstoreIdentityPolicy(identity=ALICE, **issuer),
    )
    signer, _ = verifier.verify_file(artifact, verifier.file_signature(artifact))
    return signer


def issuer_policies(issuer: str) -> list[dict[str, str]]:
    """Each way to state `issuer`: exactly, and by an escaped pattern."""
    return [{"issuer": issuer}, {"issuer_regexp": issuer.replace(".", r"\.")}]


REFUSED_FOR_NO_ISSUER = r"\.sigstore\.json: issuer: the certificate names no OIDC issuer"


@pytest.mark.parametrize("pattern", [".*", "(https://oidc.sigstore.local)?", "[^/]*"])
def test_a_certificate_without_an_issuer_is_refused_by_any_pattern(without_issuer: Signed, pattern: str) -> None:
    with pytest.raises(SignatureError, match=REFUSED_FOR_NO_ISSUER):
        verify(without_issuer, issuer_regexp=pattern)


def test_a_certificate_without_an_issuer_is_refused_by_an_exact_issuer(without_issuer: Signed) -> None:
    with pytest.raises(SignatureError, match=REFUSED_FOR_NO_ISSUER):
        verify(without_issuer, issuer=LocalSigstore.email_issuer)


def test_the_issuer_is_read_from_whichever_extension_is_present(with_one_issuer: Signed) -> None:
    """.1.8 alone (as Fulcio will write once .1.1 is retired) or .1.1 alone: exact and regexp agree."""
    for policy in issuer_policies(LocalSigstore.email_issuer):
        assert verify(with_one_issuer, **policy).issuer == LocalSigstore.email_issuer, policy
    for policy in issuer_policies(LocalSigstore.email_issuer + "/"):
        with pytest.raises(SignatureError, match=r"\.sigstore\.json: issuer: "):
            verify(with_one_issuer, **policy)


def certificate(*issuer_extensions: tuple[x509.ObjectIdentifier, bytes]) -> x509.Certificate:
    """A self-signed certificate for alice with the given issuer extensions: the policy's input, no chain needed."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(x509.Name([]))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(minutes=10))
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(ALICE)]), critical=True)
    )
    for oid, value in issuer_extensions:
        builder = builder.add_extension(x509.UnrecognizedExtension(oid, value), critical=False)
    return builder.sign(key, hashes.SHA256())


ISSUER = LocalSigstore.email_issuer
UNUSABLE_ISSUERS = {
    "v2 not a UTF8String": ([(ISSUER_V2, b"\x04\x03abc"), (ISSUER_V1, ISSUER.encode())], "is malformed"),
    "v2 with trailing bytes": ([(ISSUER_V2, asn1.encode_der(ISSUER) + b"\x00")], "is malformed"),
    "v1 not UTF-8": ([(ISSUER_V1, b"\xff\xfe")], "is malformed"),
    "v1 and v2 disagree": ([(ISSUER_V2, asn1.encode_der(ISSUER)), (ISSUER_V1, b"https://evil")], "two OIDC issuers"),
    "v2 empty": ([(ISSUER_V2, asn1.encode_der(""))], "names no OIDC issuer"),
}


@pytest.mark.parametrize(("extensions", "reason"), UNUSABLE_ISSUERS.values(), ids=UNUSABLE_ISSUERS.keys())
@pytest.mark.parametrize("policy", [{"issuer": ISSUER}, {"issuer_regexp": ".*"}], ids=["exact", "regexp"])
def test_an_unusable_issuer_extension_is_refused(
    extensions: list[tuple[x509.ObjectIdentifier, bytes]], reason: str, policy: dict[str, str]
) -> None:
    sigstore_policy = SigstoreIdentityPolicy(identity=ALICE, **policy).sigstore_policy()

    with pytest.raises(VerificationError, match=reason):
        sigstore_policy.verify(certificate(*extensions))
