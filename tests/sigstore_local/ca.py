"""Fulcio's certificate authority: root, intermediate, short-lived leaves with an embedded SCT."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sigstore_local.ctlog import CertificateTransparencyLog, sct_list_extension
from sigstore_local.keys import new_p256_key, spki_der
from sigstore_local.principal import Principal

ORGANIZATION = "sigstore.local"
ROOT_COMMON_NAME = "sigstore-local-root"
_CA_VALIDITY = timedelta(days=1)
_LEAF_VALIDITY = timedelta(minutes=10)
_SCT_PLACEHOLDER = sct_list_extension(b"")


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(*, signs_certificates: bool) -> x509.KeyUsage:
    """keyCertSign+cRLSign for a CA, digitalSignature for a leaf (Fulcio's profile)."""
    return x509.KeyUsage(
        digital_signature=not signs_certificates, content_commitment=False,
        key_encipherment=False, data_encipherment=False, key_agreement=False,
        key_cert_sign=signs_certificates, crl_sign=signs_certificates,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip


def _now() -> datetime:
    """Whole seconds: the verifier checks Rekor's integratedTime (seconds) against notBefore."""
    return datetime.now(UTC).replace(microsecond=0)


def _ca_certificate(
    key: ec.EllipticCurvePrivateKey,
    subject: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    path_length: int | None,
) -> x509.Certificate:
    """A CA certificate in the webpki CA profile that the verifier's chain builder enforces."""
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CA_VALIDITY)
        .not_valid_after(now + _CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_key_usage(signs_certificates=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        .sign(issuer_key, hashes.SHA256())
    )


@dataclass(frozen=True)
class CertificateAuthority:
    """A root and one intermediate, like public-good Fulcio; the intermediate issues the leaves."""

    ct_log: CertificateTransparencyLog
    root_key: ec.EllipticCurvePrivateKey = field(default_factory=new_p256_key, repr=False)
    intermediate_key: ec.EllipticCurvePrivateKey = field(default_factory=new_p256_key, repr=False)
    root: x509.Certificate = field(init=False)
    intermediate: x509.Certificate = field(init=False)

    def __post_init__(self) -> None:
        root_name, intermediate_name = _name(ROOT_COMMON_NAME), _name("sigstore-local-intermediate")
        root = _ca_certificate(self.root_key, root_name, self.root_key, root_name, path_length=1)
        intermediate = _ca_certificate(
            self.intermediate_key, intermediate_name, self.root_key, root_name, path_length=0
        )
        object.__setattr__(self, "root", root)
        object.__setattr__(self, "intermediate", intermediate)

    @property
    def chain(self) -> list[x509.Certificate]:
        """Intermediate then root: the order of Fulcio's response and of the trusted root."""
        return [self.intermediate, self.root]

    def issue(self, public_key: ec.EllipticCurvePublicKey, principal: Principal) -> x509.Certificate:
        """A 10-minute code-signing leaf for `principal` with an embedded SCT.

        RFC 6962 §3.2 signs the SCT over the precertificate TBS. Instead of a
        poisoned precertificate, the leaf is built with a placeholder SCT list
        in the final position: ``tbs_precertificate_bytes`` drops exactly that
        extension, which yields the same TBS the verifier reconstructs
        (``sigstore/_internal/sct.py``). The final leaf differs only there.
        """
        not_before = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.intermediate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_before + _LEAF_VALIDITY)
            .add_extension(x509.SubjectAlternativeName([principal.san]), critical=True)
            .add_extension(_key_usage(signs_certificates=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.intermediate_key.public_key()),
                critical=False,
            )
        )
        for extension in principal.extensions:
            builder = builder.add_extension(extension, critical=False)
        precertificate = builder.add_extension(_SCT_PLACEHOLDER, critical=False).sign(
            self.intermediate_key, hashes.SHA256()
        )
        sct_list = self.ct_log.sct_list(
            precertificate.tbs_precertificate_bytes,
            spki_der(self.intermediate_key.public_key()),
            timestamp_ms=int(not_before.timestamp() * 1000),
        )
        return builder.add_extension(sct_list_extension(sct_list), critical=False).sign(
            self.intermediate_key, hashes.SHA256()
        )
