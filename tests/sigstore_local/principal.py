"""What Fulcio writes into a leaf for a verified token: its SAN and Sigstore extensions.

The layouts follow Fulcio's ``docs/oid-info.md``: 1.3.6.1.4.1.57264.1.1 to
.1.6 hold raw bytes (deprecated, but sigstore-python's ``Identity`` and
``GitHubWorkflow*`` policies in ``sigstore/verify/policy.py`` read exactly
these), .1.8 onwards hold DER UTF8Strings.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from cryptography import x509
from cryptography.hazmat import asn1

from sigstore_local.errors import RequestRefused
from sigstore_local.oidc import EMAIL_ISSUER, GITHUB_ISSUER

_SIGSTORE_OID = "1.3.6.1.4.1.57264.1"
_GITHUB_SERVER = "https://github.com"

ISSUER_ARCS = frozenset({1, 8})
"""The arcs that name the issuer: .1.1 (raw, deprecated) and .1.8 (DER UTF8String)."""

_RAW_TEMPLATES = {1: "{iss}"}
"""Issuer (deprecated, raw): what ``Identity(issuer=...)`` and ``--cert-oidc-issuer`` compare."""

_UTF8_TEMPLATES = {8: "{iss}"}
"""Issuer (V2, DER UTF8String)."""

_GITHUB_RAW_TEMPLATES = _RAW_TEMPLATES | {
    2: "{event_name}",
    3: "{sha}",
    4: "{workflow}",
    5: "{repository}",
    6: "{ref}",
}
"""GitHub Workflow Trigger, SHA, Name, Repository, Ref (oid-info.md, .1.2 to .1.6)."""

_GITHUB_UTF8_TEMPLATES = _UTF8_TEMPLATES | {
    9: _GITHUB_SERVER + "/{job_workflow_ref}",
    10: "{job_workflow_sha}",
    11: "{runner_environment}",
    12: _GITHUB_SERVER + "/{repository}",
    13: "{sha}",
    14: "{ref}",
    15: "{repository_id}",
    16: _GITHUB_SERVER + "/{repository_owner}",
    17: "{repository_owner_id}",
    18: _GITHUB_SERVER + "/{workflow_ref}",
    19: "{workflow_sha}",
    20: "{event_name}",
    21: _GITHUB_SERVER + "/{repository}/actions/runs/{run_id}/attempts/{run_attempt}",
    22: "{repository_visibility}",
}
"""GitHub column of oid-info.md's table "Mapping OIDC token claims to Fulcio OIDs"."""


@dataclass(frozen=True)
class Principal:
    """The identity part of a leaf certificate; Fulcio adds the rest of the profile."""

    san: x509.GeneralName
    extensions: tuple[x509.UnrecognizedExtension, ...]

    def without_arcs(self, arcs: frozenset[int]) -> Principal:
        """This principal without the Sigstore extensions .1.`arc` for each of `arcs`."""
        omitted = {x509.ObjectIdentifier(f"{_SIGSTORE_OID}.{arc}") for arc in arcs}
        return replace(self, extensions=tuple(e for e in self.extensions if e.oid not in omitted))


def _extensions(
    claims: dict[str, Any], raw: dict[int, str], utf8: dict[int, str]
) -> tuple[x509.UnrecognizedExtension, ...]:
    try:
        raw_values = {arc: template.format(**claims).encode() for arc, template in raw.items()}
        utf8_values = {arc: asn1.encode_der(template.format(**claims)) for arc, template in utf8.items()}
    except KeyError as missing:
        raise RequestRefused(400, f"token lacks the {missing} claim") from None
    return tuple(
        x509.UnrecognizedExtension(x509.ObjectIdentifier(f"{_SIGSTORE_OID}.{arc}"), value)
        for arc, value in sorted((raw_values | utf8_values).items())
    )


def _email_principal(claims: dict[str, Any]) -> Principal:
    if not claims.get("email") or claims.get("email_verified") is not True:
        raise RequestRefused(400, "email token lacks email or email_verified: true")
    extensions = _extensions(claims, _RAW_TEMPLATES, _UTF8_TEMPLATES)
    return Principal(x509.RFC822Name(claims["email"]), extensions)


def _github_principal(claims: dict[str, Any]) -> Principal:
    extensions = _extensions(claims, _GITHUB_RAW_TEMPLATES, _GITHUB_UTF8_TEMPLATES)
    san = x509.UniformResourceIdentifier(f"{_GITHUB_SERVER}/{claims['job_workflow_ref']}")
    return Principal(san, extensions)


def principal_from_claims(claims: dict[str, Any], issuer_arcs: frozenset[int] = ISSUER_ARCS) -> Principal:
    """The principal for verified `claims`, chosen by issuer as Fulcio's issuer config does.

    `issuer_arcs` says which issuer extensions to write: a subset of
    `ISSUER_ARCS`, for tests of certificates that lack one or both.
    """
    if claims["iss"] == EMAIL_ISSUER:
        principal = _email_principal(claims)
    elif claims["iss"] == GITHUB_ISSUER:
        principal = _github_principal(claims)
    else:
        raise RequestRefused(400, f"untrusted token issuer {claims['iss']!r}")
    return principal.without_arcs(ISSUER_ARCS - issuer_arcs)
