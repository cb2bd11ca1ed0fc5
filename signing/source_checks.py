"""The source checks of a trust policy: each one requirement on where a verified bundle came from.

`signing.policy` composes them (`AllOf`); they are built from a source pin
(`signing.pins`, so from `verify-bundle --source-*` and lock files), from
a policy file's publisher (`signing.trustfile`) and for a Git install. A
bundle verified against signers alone runs none of them, so this module,
and the provenance reader it needs, are not imported to verify it: moving
them out of `signing.policy` took eight dataclasses and `attest.provenance`
off `verify-bundle`'s start-up (7% of its instructions).
"""

from dataclasses import dataclass
from pathlib import Path

from attest.manifest import SIGNATURE_DIR
from attest.provenance import Provenance
from attest.repository_url import normalise_repository
from signing.errors import PinMismatchError, TrustPolicyError
from signing.policy import CheckName


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
