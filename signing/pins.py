"""Source pins: the exact commit (and optionally repository ref, builder, digest) a bundle must come from.

An installer pins a bundle the way a lock file pins a Git dependency: by
full commit id. An abbreviated id is refused when the pin is made, since
it is ambiguous and may grow a colliding twin.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from attest.commit_id import check_full_commit
from attest.errors import AttestError
from attest.repository_url import normalise_repository
from attest.statement import SHA256_HEX
from signing.errors import BundleError, TrustPolicyError
from signing.files import PathLike, read_regular_file, replace_together
from signing.layout import bundle_name
from signing.policy import AllOf, SourceCheck

_MAX_LOCK_BYTES = 4 * 1024 * 1024
_LOCK_KEYS = {"source_repo", "source_commit", "digest"}
_OPTIONAL_LOCK_KEYS = {"source_ref", "builder_id"}


@dataclass(frozen=True)
class SourcePin:
    """What a bundle's provenance must state, and what else the installer requires."""

    repository: str
    commit: str
    ref: str | None = None
    builder_id: str | None = None
    digest: str | None = None
    require_checkout: bool = False

    def __post_init__(self) -> None:
        if not self.repository:
            raise TrustPolicyError("the pinned source repository is empty")
        if self.ref == "" or self.builder_id == "":
            raise TrustPolicyError("a pinned source ref or builder id is empty")
        try:
            check_full_commit(self.commit, what="--source-commit")
            normalise_repository(self.repository)
        except AttestError as err:
            raise TrustPolicyError(f"unusable pin: {err}") from None
        if self.digest is not None and not SHA256_HEX.fullmatch(self.digest):
            raise TrustPolicyError(f"pinned digest {self.digest!r} is not a sha256 (64 lowercase hex digits)")

    def checks(self) -> AllOf:
        """The source checks this pin states, each one a check of the verdict."""
        from signing.source_checks import BuilderIs, CheckoutAt, CommitIs, DigestIs, RefIs, RepositoryIs

        stated: list[SourceCheck] = [RepositoryIs(self.repository), CommitIs(self.commit)]
        if self.digest is not None:
            stated.append(DigestIs(self.digest))
        if self.ref is not None:
            stated.append(RefIs(self.ref))
        if self.builder_id is not None:
            stated.append(BuilderIs(self.builder_id))
        if self.require_checkout:
            stated.append(CheckoutAt(self.commit))
        return AllOf(tuple(stated), provenance=True)

    @classmethod
    def from_options(
        cls,
        repository: str | None = None,
        commit: str | None = None,
        *,
        ref: str | None = None,
        builder_id: str | None = None,
        require_checkout: bool = False,
        locked: bool = False,
    ) -> "SourcePin | None":
        """The pin that optional settings state (`verify-bundle`'s --source-* options); None when none.

        `locked` says a lock file gives the pins, which excludes stating one
        here; `require_checkout` alone still needs a repository and commit to
        check the checkout against. A value given empty (an unset shell
        variable) still states a pin, and is refused: it must never turn the
        pin off.
        """
        stated = any(value is not None for value in (repository, commit, ref, builder_id))
        if locked and stated:
            raise TrustPolicyError("--lock excludes --source-repo, --source-commit, --source-ref and --builder-id")
        if locked or not (stated or require_checkout):
            return None
        if repository is None or commit is None:
            raise TrustPolicyError("a source pin needs both --source-repo and --source-commit")
        return cls(repository, commit, ref=ref, builder_id=builder_id, require_checkout=require_checkout)


@dataclass(frozen=True)
class LockFile:
    """Pins for many bundles, read from TOML: `[bundle.NAME]` with source_repo, source_commit, digest.

    An entry may also pin `source_ref` and `builder_id`; each one given must
    be what the provenance states.
    """

    path: Path
    pins: dict[str, SourcePin]

    @classmethod
    def read_or_new(cls, path: PathLike) -> "LockFile":
        """The lock file at `path`, or an empty one to be written there when no file exists."""
        return cls.read(path) if Path(path).exists() or Path(path).is_symlink() else cls(Path(path), {})

    @classmethod
    def read(cls, path: PathLike) -> "LockFile":
        """Read and check a lock file; a bundle named in it is pinned by `pin_for`."""
        import tomllib  # here: verifying without --lock reads no TOML, and start-up should not pay for it

        path = Path(path)
        try:
            data = read_regular_file(path, _MAX_LOCK_BYTES, follow_symlinks=True)
            document = tomllib.loads(data.decode())
        except BundleError as err:
            raise TrustPolicyError(f"cannot read lock file {err}") from None
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            raise TrustPolicyError(f"{path}: not a TOML lock file ({err})") from None
        except RecursionError:
            # tomllib recurses once per nested array or inline table; a lock file needs neither.
            raise TrustPolicyError(f"{path}: not a lock file: TOML nested too deeply") from None
        bundles = document.get("bundle")
        if set(document) != {"bundle"} or not isinstance(bundles, dict):
            raise TrustPolicyError(f"{path}: a lock file holds exactly [bundle.NAME] tables")
        return cls(path, {name: _pin(path, name, table) for name, table in bundles.items()})

    def with_pin(self, name: str, pin: SourcePin, *, replace: bool = False) -> "LockFile":
        """This lock with `pin` as the entry of bundle `name`; an entry pinning something else needs `replace`."""
        present = self.pins.get(name)
        if present is not None and present != pin and not replace:
            raise TrustPolicyError(
                f"{self.path}: [bundle.{name}] already pins {present.repository} at {present.commit}, "
                f"sha256:{present.digest}; replace it explicitly (--replace)"
            )
        return LockFile(self.path, {**self.pins, name: pin})

    def to_toml(self) -> bytes:
        """The lock as TOML that `read` reads back to the same pins (names and values as TOML basic strings)."""
        lines = []
        for name, pin in sorted(self.pins.items()):
            lines.append(f"[bundle.{json.dumps(name)}]")
            values = {
                "source_repo": pin.repository,
                "source_commit": pin.commit,
                "source_ref": pin.ref,
                "builder_id": pin.builder_id,
                "digest": None if pin.digest is None else f"sha256:{pin.digest}",
            }
            lines.extend(f"{key} = {json.dumps(value)}" for key, value in values.items() if value is not None)
            lines.append("")
        return "\n".join(lines).encode()

    def write(self) -> None:
        """Replace the lock file with these pins, all at once or not at all."""
        replace_together({self.path: self.to_toml()})

    def pin_for(self, bundle: PathLike) -> SourcePin | None:
        """The pin of a bundle, by its file or directory name; None when it is not locked."""
        return self.pins.get(bundle_name(bundle))


def _pin(path: Path, name: str, table: object) -> SourcePin:
    where = f"{path}: [bundle.{name}]"
    if (
        not isinstance(table, dict)
        or not _LOCK_KEYS <= set(table) <= _LOCK_KEYS | _OPTIONAL_LOCK_KEYS
        or not all(isinstance(v, str) for v in table.values())
    ):
        raise TrustPolicyError(
            f"{where} must hold the strings {', '.join(sorted(_LOCK_KEYS))}, "
            f"and may hold {' and '.join(sorted(_OPTIONAL_LOCK_KEYS))}"
        )
    digest = table["digest"].removeprefix("sha256:")
    try:
        return SourcePin(
            repository=table["source_repo"],
            commit=table["source_commit"],
            ref=table.get("source_ref"),
            builder_id=table.get("builder_id"),
            digest=digest,
        )
    except (TrustPolicyError, ValueError) as err:
        raise TrustPolicyError(f"{where}: {err}") from None
