"""Rekor v1 entry kinds: check a proposed entry and turn it into the body the log stores.

Like Rekor, the log refuses an entry whose signature does not verify with
the certificate it names, so a log entry always binds artifact and signer.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

import rfc8785
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

from sigstore_local.errors import RequestRefused

Body = dict[str, Any]


def _verify(certificate_b64: str, signature: bytes, data: bytes, prehashed: bool) -> None:
    """Check `signature` over `data` with the key of a base64-encoded PEM certificate."""
    try:
        public_key = x509.load_pem_x509_certificate(base64.b64decode(certificate_b64)).public_key()
    except ValueError as error:
        raise RequestRefused(400, f"unreadable certificate: {error}") from None
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise RequestRefused(400, "only ECDSA certificates are supported")
    algorithm = utils.Prehashed(hashes.SHA256()) if prehashed else hashes.SHA256()
    try:
        public_key.verify(signature, data, ec.ECDSA(algorithm))
    except InvalidSignature:
        raise RequestRefused(400, "entry signature does not verify with its certificate") from None


def _hashedrekord(spec: dict[str, Any]) -> Body:
    """hashedrekord 0.0.1 is stored as proposed: signature over a SHA-256 digest."""
    digest = spec["data"]["hash"]
    if digest["algorithm"] != "sha256":
        raise RequestRefused(400, f"unsupported digest algorithm {digest['algorithm']!r}")
    signature = spec["signature"]
    _verify(
        signature["publicKey"]["content"],
        base64.b64decode(signature["content"]),
        bytes.fromhex(digest["value"]),
        prehashed=True,
    )
    return {"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": spec}


def _pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding, what the envelope signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def _dsse(spec: dict[str, Any]) -> Body:
    """dsse 0.0.1: Rekor stores hashes of the envelope and payload, not the envelope.

    The stored form (``envelopeHash``, ``payloadHash``, ``signatures`` with
    their ``verifier``) is what ``_validate_dsse_v001_entry_body`` in
    ``sigstore/verify/verifier.py`` compares with the bundle.
    """
    proposed = spec["proposedContent"]
    envelope_json: str = proposed["envelope"]
    envelope = json.loads(envelope_json)
    payload = base64.b64decode(envelope["payload"])
    verifier: str = proposed["verifiers"][0]
    for signature in envelope["signatures"]:
        _verify(
            verifier,
            base64.b64decode(signature["sig"]),
            _pae(envelope["payloadType"], payload),
            prehashed=False,
        )
    return {
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {
                "algorithm": "sha256",
                "value": hashlib.sha256(envelope_json.encode()).hexdigest(),
            },
            "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
            "signatures": [{"signature": s["sig"], "verifier": verifier} for s in envelope["signatures"]],
        },
    }


_KINDS: dict[tuple[str, str], Callable[[dict[str, Any]], Body]] = {
    ("hashedrekord", "0.0.1"): _hashedrekord,
    ("dsse", "0.0.1"): _dsse,
}


def canonical_body(proposed: dict[str, Any]) -> bytes:
    """The RFC 8785 canonical JSON body the log stores and hashes for `proposed`."""
    try:
        kind = _KINDS[(proposed["kind"], proposed["apiVersion"])]
        return rfc8785.dumps(kind(proposed["spec"]))
    except (KeyError, TypeError, ValueError) as error:
        raise RequestRefused(400, f"malformed or unsupported entry: {error!r}") from None
