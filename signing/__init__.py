"""packseal's signing API: sign bundles and verify them before install.

What this module exports is the public API; every other name is private.
Importing it does not import `sigstore`, so minisign verification and the
startup self-check stay fast.
"""

from signing.backends.minisign import MinisignKeyring, MinisignSigner, generate_key_pair
from signing.bundle import directory_manifest, file_digest
from signing.errors import (
    BundleError,
    KeyFileError,
    OutputError,
    PacksealError,
    SignatureError,
    SigningError,
    TrustPolicyError,
)
from signing.policy import TrustPolicy
from signing.sign import SignedBundle, sign_with_minisign
from signing.verify import Check, Verdict, verify_bundle

__all__ = [
    "BundleError",
    "Check",
    "KeyFileError",
    "MinisignKeyring",
    "MinisignSigner",
    "OutputError",
    "PacksealError",
    "SignatureError",
    "SignedBundle",
    "SigningError",
    "TrustPolicy",
    "TrustPolicyError",
    "Verdict",
    "directory_manifest",
    "file_digest",
    "generate_key_pair",
    "sign_with_minisign",
    "verify_bundle",
]
