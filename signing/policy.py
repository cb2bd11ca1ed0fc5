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
  digest, checkout), each reported as its own check of the `Verdict`.

The command-line options, `SourcePin` (and so lock files) and the policy
file (`signing.trustfile`) all build these same objects. A policy that
trusts nobody cannot be built, so verification cannot pass by default.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from attest.manifest import SIGNATURE_DIR
from attest.provenance import Provenance, normalise_repository
from signing.backends import BundleVerifier
from signing.errors import PinMismatchError, TrustPolicyError


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


@dataclass(frozen=True)
class Evidence:
    """What the checks before a source check established about the bundle.

    `digest` is the bundle's hex sha256 (verified by its signature);
    `provenance` is set once its signature and subject verified, and only
    checks that read it run after that.
    """

    path: Path
    digest: str
    provenance: Provenance | None = None

    def verified_provenance(self) -> Provenance:
        if self.provenance is None:  # `AllOf` runs the provenance checks first; never reached otherwise
            raise TrustPolicyError("a source check ran before the bundle's provenance was verified")
        return self.provenance


class SourceCheck(Protocol):
    """One requirement on where a verified bundle came from, reported as the check `name`."""

    @property
    def name(self) -> CheckName: ...

    @property
    def reads_provenance(self) -> bool:
        """Whether the check reads the signed provenance, which must then be verified before it."""
        ...

    def verify(self, evidence: Evidence) -> str:
        """One line saying what passed; raise `PinMismatchError` (or another `PacksealError`) to refuse."""
        ...


def _expect(what: str, actual: str | None, expected: str) -> str:
    if actual != expected:
        raise PinMismatchError(f"{what} is {actual!r}, pinned {expected!r}", expected=expected, actual=actual)
    return f"{what} {actual}"


@dataclass(frozen=True)
class DigestIs:
    """The bundle's digest is this hex sha256 (a lock file's pin)."""

    digest: str
    name = CheckName.LOCK_DIGEST
    reads_provenance = False

    def verify(self, evidence: Evidence) -> str:
        return _expect("bundle digest", f"sha256:{evidence.digest}", f"sha256:{self.digest}")


@dataclass(frozen=True)
class RepositoryIs:
    """The provenance names this source repository, compared as `normalise_repository` reduces URLs."""

    repository: str
    name = CheckName.SOURCE_REPOSITORY
    reads_provenance = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "repository", normalise_repository(self.repository))

    def verify(self, evidence: Evidence) -> str:
        actual = normalise_repository(evidence.verified_provenance().source_repository)
        return _expect("source repository", actual, self.repository)


@dataclass(frozen=True)
class FetchedFrom(RepositoryIs):
    """The provenance names the repository a Git install fetched the bundle from, compared as `RepositoryIs` does.

    Not the commit: a bundle's signatures are committed in the commit
    fetched, so provenance naming that commit cannot be inside it (its id
    would depend on itself); the provenance names the commit built from.
    """

    name = CheckName.FETCHED_REPOSITORY

    def verify(self, evidence: Evidence) -> str:
        actual = normalise_repository(evidence.verified_provenance().source_repository)
        if actual != self.repository:
            raise PinMismatchError(
                f"provenance names source repository {actual!r}, but the bundle was fetched from {self.repository!r}",
                expected=self.repository,
                actual=actual,
            )
        return f"provenance names {actual}, the repository fetched"


@dataclass(frozen=True)
class CommitIs:
    """The provenance names this full source commit."""

    commit: str
    name = CheckName.SOURCE_COMMIT
    reads_provenance = True

    def verify(self, evidence: Evidence) -> str:
        return _expect("source commit", evidence.verified_provenance().source_commit, self.commit)


@dataclass(frozen=True)
class RefIs:
    """The provenance names this source ref."""

    ref: str
    name = CheckName.SOURCE_REF
    reads_provenance = True

    def verify(self, evidence: Evidence) -> str:
        return _expect("source ref", evidence.verified_provenance().source_ref, self.ref)


@dataclass(frozen=True)
class BuilderIs:
    """The provenance names this builder id."""

    builder_id: str
    name = CheckName.BUILDER
    reads_provenance = True

    def verify(self, evidence: Evidence) -> str:
        return _expect("builder id", evidence.verified_provenance().builder_id, self.builder_id)


@dataclass(frozen=True)
class CheckoutAt:
    """The bundle sits in a clean checkout at `commit` and is exactly that commit's tree, read without `git`."""

    commit: str
    name = CheckName.GIT_CHECKOUT
    reads_provenance = False

    def verify(self, evidence: Evidence) -> str:
        from attest.git import Checkout  # Git code loads only for a checkout pin, not on every verification

        checkout = Checkout.containing(evidence.path)
        checkout.require_at(self.commit)
        checkout.require_committed(evidence.path, signature_dir=SIGNATURE_DIR)
        return f"{evidence.path} is exactly the tree of commit {self.commit} in {checkout.top}"


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
