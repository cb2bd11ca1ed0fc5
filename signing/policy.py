"""The trust policy: whom an installer trusts to sign a bundle, and what its source must be.

Trust comes from the installer, never from the bundle. As in
sigstore-python's `verify.policy`, a policy is small checks that each test
one thing, composed:

- signers: `TrustPolicy.verifiers` are all required (one per signing
  system: a bundle may be required to carry both a minisign and a Sigstore
  signature); each is an any-of over the signers it trusts (a minisign
  keyring accepts any of its keys not revoked, which is key rotation; a
  Sigstore verifier any of its identity and issuer pairs);
- source: `AllOf` of `SourceCheck`s (repository, commit, ref, builder,
  digest, checkout: `signing.source_checks`), each reported as its own
  check of the `Verdict`.

The command-line options, `SourcePin` (and so lock files) and the policy
file (`signing.trustfile`) all build these same objects. A policy that
trusts nobody cannot be built, so verification cannot pass by default.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from signing.backends import BundleVerifier
from signing.errors import TrustPolicyError

if TYPE_CHECKING:
    from signing.source_checks import Evidence


class CheckName(StrEnum):
    """Every check `verify_bundle` can run, by its stable name, in the order they run: the one table of them.

    A check's `name` in a `Verdict` and in `--json` output is one of these
    values; scripts match on them, so a value never changes within one
    `signing.schemas.JSON_SCHEMA_VERSION`.
    """

    LOCK = "lock"
    """The lock file has an entry for the bundle."""
    PUBLISHER = "publisher"
    """The trust policy file names a publisher for the bundle's name."""
    LAYOUT = "layout"
    """`.packseal/` holds only packseal's files, each well formed for its role."""
    SIGNATURE = "signature"
    """The manifest (or the single file) is signed by a trusted signer."""
    STATEMENT = "statement"
    """The signed manifest Statement parses, and the signature claims its digest."""
    BUNDLE_NAME = "bundle-name"
    """The signed manifest names the bundle by the name its publisher was chosen by."""
    FILES = "files"
    """The directory is exactly what the manifest lists."""
    LOCK_DIGEST = "lock-digest"
    """The bundle's digest is the one the lock file pins."""
    PROVENANCE = "provenance"
    """The bundle's provenance is signed by a trusted signer."""
    PROVENANCE_SUBJECT = "provenance-subject"
    """The provenance, and every signature over it, names this bundle's digest."""
    SOURCE_REPOSITORY = "source-repository"
    FETCHED_REPOSITORY = "fetched-repository"
    """Install from Git: the provenance names the repository the bundle was fetched from."""
    SOURCE_COMMIT = "source-commit"
    SOURCE_REF = "source-ref"
    BUILDER = "builder"
    GIT_CHECKOUT = "git-checkout"
    """The bundle is exactly the tree of the pinned commit in a clean checkout."""
    ROLLBACK = "rollback"
    """Install only: the version is not below the highest installed before (`signing.rollback`)."""


_ORDER = {name: index for index, name in enumerate(CheckName)}


class SourceCheck(Protocol):
    """One requirement on where a verified bundle came from, reported as the check `name`."""

    @property
    def name(self) -> CheckName: ...

    @property
    def reads_provenance(self) -> bool:
        """Whether the check reads the signed provenance, which must then be verified before it."""
        ...

    def verify(self, evidence: "Evidence") -> str:
        """One line saying what passed; raise `PinMismatchError` (or another `PacksealError`) to refuse."""
        ...


@dataclass(frozen=True)
class AllOf:
    """Source checks that must all pass; with `provenance`, signed provenance is required even with none.

    The checks run in `CheckName` order whatever order they were given in,
    so a `Verdict` reads the same however the policy was assembled; the
    same check given twice (a publisher's and a lock's) runs once.
    """

    checks: tuple[SourceCheck, ...] = ()
    provenance: bool = False

    def __post_init__(self) -> None:
        unique = dict.fromkeys(self.checks)
        object.__setattr__(self, "checks", tuple(sorted(unique, key=lambda check: _ORDER[check.name])))

    def __and__(self, other: "AllOf") -> "AllOf":
        """Both policies' checks: a lock pin adds to a publisher's requirements, never replaces them."""
        return AllOf((*self.checks, *other.checks), self.provenance or other.provenance)

    def __bool__(self) -> bool:
        return bool(self.checks) or self.provenance

    @property
    def needs_provenance(self) -> bool:
        return self.provenance or any(check.reads_provenance for check in self.checks)

    @property
    def before_provenance(self) -> tuple[SourceCheck, ...]:
        """The checks that run before the provenance is verified (the locked digest)."""
        return tuple(check for check in self.checks if _ORDER[check.name] < _ORDER[CheckName.PROVENANCE])

    @property
    def after_provenance(self) -> tuple[SourceCheck, ...]:
        return tuple(check for check in self.checks if _ORDER[check.name] > _ORDER[CheckName.PROVENANCE_SUBJECT])


@dataclass(frozen=True)
class TrustPolicy:
    """Every signing system the installer requires (all of them), each with the signers it trusts (any of them).

    `source` is what the bundle's provenance must state, beyond any pin
    given at verification (a policy file publisher's `source_repo`,
    `builder_id`, `require_provenance`).
    """

    verifiers: tuple[BundleVerifier, ...]
    source: AllOf = field(default_factory=AllOf)

    def __post_init__(self) -> None:
        # Every check iterates the verifiers; an iterator would be spent by the first.
        object.__setattr__(self, "verifiers", tuple(self.verifiers))
        if not self.verifiers:
            raise TrustPolicyError(
                "no trusted signer given: pass --minisign-pubkey, or --certificate-identity "
                "and --certificate-oidc-issuer (or their -regexp forms)"
            )
