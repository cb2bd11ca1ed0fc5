"""Fulcio's ``POST /api/v2/signingCert``: token and CSR in, certificate chain out."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sigstore_local.ca import CertificateAuthority
from sigstore_local.errors import RequestRefused
from sigstore_local.oidc import TokenIssuer
from sigstore_local.principal import ISSUER_ARCS, principal_from_claims


def _bearer_token(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme != "Bearer" or not token:
        raise RequestRefused(401, "missing 'Authorization: Bearer <token>' header")
    return token


def _csr_public_key(body: bytes) -> ec.EllipticCurvePublicKey:
    """The CSR's key, once its self-signature proves possession of the private key.

    The request shape is ``{"certificateSigningRequest": base64(PEM CSR)}``,
    as ``sigstore/_internal/fulcio/client.py`` sends it.
    """
    try:
        pem = base64.b64decode(json.loads(body)["certificateSigningRequest"], validate=True)
        csr = x509.load_pem_x509_csr(pem)
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise RequestRefused(400, f"unreadable certificate signing request: {error}") from None
    if not csr.is_signature_valid:
        raise RequestRefused(400, "CSR signature invalid: no proof of possession")
    public_key = csr.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise RequestRefused(400, f"unsupported CSR key type {type(public_key).__name__}")
    return public_key


@dataclass(frozen=True)
class Fulcio:
    """Issues a leaf to whoever holds a token from `token_issuer` and proves key possession.

    `issuer_arcs` are the issuer extensions its leaves carry (see `principal_from_claims`).
    """

    token_issuer: TokenIssuer
    authority: CertificateAuthority
    issuer_arcs: frozenset[int] = ISSUER_ARCS

    def signing_cert(self, authorization: str | None, body: bytes) -> dict[str, Any]:
        """The ``signedCertificateEmbeddedSct`` response, chain leaf first (Fulcio API v2)."""
        try:
            claims = self.token_issuer.verify(_bearer_token(authorization))
        except jwt.InvalidTokenError as error:
            raise RequestRefused(401, f"identity token refused: {error}") from None
        leaf = self.authority.issue(_csr_public_key(body), principal_from_claims(claims, self.issuer_arcs))
        pems = [
            certificate.public_bytes(serialization.Encoding.PEM).decode()
            for certificate in [leaf, *self.authority.chain]
        ]
        return {"signedCertificateEmbeddedSct": {"chain": {"certificates": pems}}}
