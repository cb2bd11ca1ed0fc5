"""A small local Sigstore (OIDC issuer, Fulcio, CT log, Rekor v1) for tests.

It follows the public protocols closely enough that the unmodified
``sigstore`` client signs and verifies against it, configured only by the
ClientTrustConfig file it writes. Start one with `running_instance`.
"""

from sigstore_local.instance import SigstoreInstance, running_instance

__all__ = ["SigstoreInstance", "running_instance"]
