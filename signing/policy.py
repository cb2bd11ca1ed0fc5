"""The trust policy: who an installer accepts as the signer of a bundle.

Trust comes from the installer, never from the bundle. A policy that
trusts nobody cannot be built, so verification cannot pass by default.
"""

from dataclasses import dataclass

from signing.backends.minisign import MinisignKeyring


@dataclass(frozen=True)
class TrustPolicy:
    """The signers an installer trusts: for now, a keyring of minisign public keys."""

    minisign_keys: MinisignKeyring
