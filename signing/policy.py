"""The trust policy: which signing systems, and which signers in each, an installer trusts.

Trust comes from the installer, never from the bundle. A policy is a set of
verifiers that must all pass (a bundle may be required to carry both a
minisign and a Sigstore signature); a policy that trusts nobody cannot be
built, so verification cannot pass by default.
"""

from dataclasses import dataclass

from signing.backends import BundleVerifier
from signing.errors import TrustPolicyError


@dataclass(frozen=True)
class TrustPolicy:
    """Every signing system the installer requires, each with the signers it trusts."""

    verifiers: tuple[BundleVerifier, ...]

    def __post_init__(self) -> None:
        # Every check iterates the verifiers; an iterator would be spent by the first.
        object.__setattr__(self, "verifiers", tuple(self.verifiers))
        if not self.verifiers:
            raise TrustPolicyError(
                "no trusted signer given: pass --minisign-pubkey, or --certificate-identity "
                "and --certificate-oidc-issuer (or their -regexp forms)"
            )
