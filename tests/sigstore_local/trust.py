"""Writes the trusted root and the ClientTrustConfig that point the sigstore client at the instance.

Shapes and media types are the ones ``sigstore/models.py`` accepts:
trusted root v0.1 (v0.2 is refused as "unsupported trusted root format") and
signing config v0.2 inside a client trust config v0.1.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from sigstore_local.ca import ORGANIZATION, ROOT_COMMON_NAME, CertificateAuthority
from sigstore_local.keys import LogKey

_TRUSTED_ROOT = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
_SIGNING_CONFIG = "application/vnd.dev.sigstore.signingconfig.v0.2+json"
_CLIENT_TRUST_CONFIG = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _transparency_log(url: str, key: LogKey, valid_for: dict[str, str]) -> dict[str, Any]:
    return {
        "baseUrl": url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": {
            "rawBytes": _b64(key.spki_der),
            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
            "validFor": valid_for,
        },
        "logId": {"keyId": _b64(key.log_id)},
    }


def _service(url: str, valid_for: dict[str, str]) -> dict[str, Any]:
    """A signing-config service entry; Fulcio only supports ``majorApiVersion`` 1 there."""
    return {"url": url, "majorApiVersion": 1, "validFor": valid_for, "operator": "sigstore.local"}


def _trusted_root(
    url: str,
    authority: CertificateAuthority,
    ct_key: LogKey,
    rekor_key: LogKey,
    valid_for: dict[str, str],
) -> dict[str, Any]:
    chain = [{"rawBytes": _b64(c.public_bytes(serialization.Encoding.DER))} for c in authority.chain]
    return {
        "mediaType": _TRUSTED_ROOT,
        "tlogs": [_transparency_log(url, rekor_key, valid_for)],
        "ctlogs": [_transparency_log(url, ct_key, valid_for)],
        "certificateAuthorities": [
            {
                "subject": {"organization": ORGANIZATION, "commonName": ROOT_COMMON_NAME},
                "uri": url,
                "certChain": {"certificates": chain},
                "validFor": valid_for,
            }
        ],
        "timestampAuthorities": [],
    }


def _signing_config(url: str, valid_for: dict[str, str]) -> dict[str, Any]:
    """Fulcio and Rekor at `url`; no TSA, so the Rekor SET is the verified signing time."""
    return {
        "mediaType": _SIGNING_CONFIG,
        "caUrls": [_service(url, valid_for)],
        "oidcUrls": [],
        "rekorTlogUrls": [_service(url, valid_for)],
        "tsaUrls": [],
        "rekorTlogConfig": {"selector": "ANY"},
        "tsaConfig": {"selector": "ANY"},
    }


def write_trust_files(
    directory: Path, url: str, authority: CertificateAuthority, ct_key: LogKey, rekor_key: LogKey
) -> tuple[Path, Path]:
    """Write ``trusted_root.json`` and ``trust_config.json`` into `directory`; return both paths.

    Everything is valid from a day ago: clients filter keys and services by
    ``validFor`` at signing time, and the keys were made a moment ago.
    """
    start = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    valid_for = {"start": start}
    root = _trusted_root(url, authority, ct_key, rekor_key, valid_for)
    config = {
        "mediaType": _CLIENT_TRUST_CONFIG,
        "trustedRoot": root,
        "signingConfig": _signing_config(url, valid_for),
    }
    directory.mkdir(parents=True, exist_ok=True)
    root_path, config_path = directory / "trusted_root.json", directory / "trust_config.json"
    root_path.write_text(json.dumps(root, indent=2))
    config_path.write_text(json.dumps(config, indent=2))
    return root_path, config_path
