"""packseal's signing API: sign bundles, attest provenance, verify before install, check self.

What this module exports is the public API; every other name is private.
Exports load on first use (PEP 562), so `from signing.selfcheck import
check_self` at a daemon's startup does not import the rest of packseal,
and nothing here imports `sigstore` until Sigstore is used.
"""

from typing import TYPE_CHECKING

from attest.exports import lazy_exports

_EXPORTS = {
    "BundleError": "signing.errors",
    "IdentityError": "signing.errors",
    "KeyFileError": "signing.errors",
    "NotABundleError": "signing.errors",
    "OutputError": "signing.errors",
    "PacksealError": "signing.errors",
    "PinMismatchError": "signing.errors",
    "SelfCheckError": "signing.errors",
    "SignatureError": "signing.errors",
    "SigningError": "signing.errors",
    "TrustPolicyError": "signing.errors",
    "MinisignKeyring": "signing.backends.minisign",
    "MinisignSigner": "signing.backends.minisign",
    "MinisignSigning": "signing.backends.minisign",
    "generate_key_pair": "signing.backends.minisign",
    "directory_manifest": "signing.bundle",
    "file_digest": "signing.bundle",
    "LockFile": "signing.pins",
    "SourcePin": "signing.pins",
    "TrustPolicy": "signing.policy",
    "SignedBundle": "signing.sign",
    "attest_bundle": "signing.sign",
    "sign_bundle": "signing.sign",
    "sign_with_minisign": "signing.sign",
    "sign_with_sigstore": "signing.sign",
    "SelfCheckResult": "signing.selfcheck",
    "check_self": "signing.selfcheck",
    "record_self": "signing.selfcheck",
    "Check": "signing.verify",
    "Verdict": "signing.verify",
    "verify_bundle": "signing.verify",
    "verify_locked_bundle": "signing.verify",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:
    from signing.backends.minisign import MinisignKeyring, MinisignSigner, MinisignSigning, generate_key_pair
    from signing.bundle import directory_manifest, file_digest
    from signing.errors import (
        BundleError,
        IdentityError,
        KeyFileError,
        NotABundleError,
        OutputError,
        PacksealError,
        PinMismatchError,
        SelfCheckError,
        SignatureError,
        SigningError,
        TrustPolicyError,
    )
    from signing.pins import LockFile, SourcePin
    from signing.policy import TrustPolicy
    from signing.selfcheck import SelfCheckResult, check_self, record_self
    from signing.sign import SignedBundle, attest_bundle, sign_bundle, sign_with_minisign, sign_with_sigstore
    from signing.verify import Check, Verdict, verify_bundle, verify_locked_bundle
