"""A certificate transparency log that only signs SCTs for Fulcio precertificates."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat import asn1
from cryptography.x509.oid import ExtensionOID

from sigstore_local.keys import LogKey

_V1 = 0
_CERTIFICATE_TIMESTAMP = 0
_PRECERT_ENTRY = 1
_SHA256 = 4
_ECDSA = 3


def _u16_prefixed(data: bytes) -> bytes:
    return struct.pack(">H", len(data)) + data


def _u24_prefixed(data: bytes) -> bytes:
    return len(data).to_bytes(3, "big") + data


def sct_list_extension(sct_list: bytes) -> x509.UnrecognizedExtension:
    """The embedded-SCT X.509 extension (RFC 6962 §3.3) holding `sct_list`.

    cryptography cannot build SCT objects, so the extension is passed as
    an unrecognized one whose value is the DER OCTET STRING wrapping the list.
    """
    return x509.UnrecognizedExtension(ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS, asn1.encode_der(sct_list))


@dataclass(frozen=True)
class CertificateTransparencyLog:
    """Signs SCTs; nothing is logged, since clients only verify the SCT signature."""

    key: LogKey = field(default_factory=LogKey)

    def sct_list(self, tbs_precertificate: bytes, issuer_spki_der: bytes, timestamp_ms: int) -> bytes:
        """A ``SignedCertificateTimestampList`` with one SCT for a precertificate.

        The signed blob is the ``digitally-signed`` struct of RFC 6962 §3.2 for
        a ``precert_entry``: the issuer key hash then the precertificate TBS,
        the layout ``sigstore/_internal/sct.py`` rebuilds to verify it.
        """
        signed = (
            struct.pack(">BBQH", _V1, _CERTIFICATE_TIMESTAMP, timestamp_ms, _PRECERT_ENTRY)
            + hashlib.sha256(issuer_spki_der).digest()
            + _u24_prefixed(tbs_precertificate)
            + _u16_prefixed(b"")
        )
        sct = (
            struct.pack(">B", _V1)
            + self.key.log_id
            + struct.pack(">Q", timestamp_ms)
            + _u16_prefixed(b"")
            + struct.pack(">BB", _SHA256, _ECDSA)
            + _u16_prefixed(self.key.sign(signed))
        )
        return _u16_prefixed(_u16_prefixed(sct))
