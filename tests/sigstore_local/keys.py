"""P-256 keys for the services, and the signing key of a log with its log id."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def new_p256_key() -> ec.EllipticCurvePrivateKey:
    """A fresh key; P-256 keeps instance startup well under a second."""
    return ec.generate_private_key(ec.SECP256R1())


def spki_der(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """The DER SubjectPublicKeyInfo of `public_key`, the form trusted roots and key ids use."""
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass(frozen=True)
class LogKey:
    """A log's key; its log id is SHA-256 of its DER SubjectPublicKeyInfo.

    That id rule is shared by RFC 6962 §3.2 (CT ``LogID``) and Rekor, and is
    how sigstore-python's keyrings (``sigstore/_internal/trust.py``) look keys
    up in the trusted root.
    """

    private_key: ec.EllipticCurvePrivateKey = field(default_factory=new_p256_key, repr=False)

    @property
    def spki_der(self) -> bytes:
        """The DER SubjectPublicKeyInfo published in the trusted root."""
        return spki_der(self.private_key.public_key())

    @property
    def log_id(self) -> bytes:
        """SHA-256 of `spki_der`."""
        return hashlib.sha256(self.spki_der).digest()

    def sign(self, data: bytes) -> bytes:
        """A DER ECDSA-SHA256 signature over `data`."""
        return self.private_key.sign(data, ec.ECDSA(hashes.SHA256()))
