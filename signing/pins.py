"""Source pins: the exact commit (and optionally repository ref, builder, digest) a bundle must come from.

An installer pins a bundle the way a lock file pins a Git dependency: by
full commit id. An abbreviated id is refused when the pin is made, since
it is ambiguous and may grow a colliding twin.
"""

import tomllib
from dataclasses import dataclass
from pathlib import Path

from attest.errors import AttestError
from attest.git import check_full_commit
from attest.provenance import normalise_repository
from attest.statement import SHA256_HEX
from signing.errors import BundleError, TrustPolicyError
from signing.files import PathLike, read_regular_file

_MAX_LOCK_BYTES = 4 * 1024 * 1024
_LOCK_KEYS = {"source_repo", "source_commit", "digest"}


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
        try:
            check_full_commit(self.commit, what="--source-commit")
            normalise_repository(self.repository)
        except AttestError as err:
            raise TrustPolicyError(f"unusable pin: {err}") from None
        if self.digest is not None and not SHA256_HEX.fullmatch(self.digest):
            raise TrustPolicyError(f"pinned digest {self.digest!r} is not a sha256 (64 lowercase hex digits)")

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
    """Pins for many bundles, read from TOML: `[bundle.NAME]` with source_repo, source_commit, digest."""

    path: Path
    pins: dict[str, SourcePin]

    @classmethod
    def read(cls, path: PathLike) -> "LockFile":
        """Read and check a lock file; a bundle named in it is pinned by `pin_for`."""
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

    def pin_for(self, bundle: PathLike) -> SourcePin | None:
        """The pin of a bundle, by its file or directory name; None when it is not locked."""
        return self.pins.get(Path(bundle).resolve().name)


def _pin(path: Path, name: str, table: object) -> SourcePin:
    where = f"{path}: [bundle.{name}]"
    if not isinstance(table, dict) or set(table) != _LOCK_KEYS or not all(isinstance(v, str) for v in table.values()):
        raise TrustPolicyError(f"{where} must hold exactly the strings {', '.join(sorted(_LOCK_KEYS))}")
    digest = table["digest"].removeprefix("sha256:")
    try:
        return SourcePin(repository=table["source_repo"], commit=table["source_commit"], digest=digest)
    except (TrustPolicyError, ValueError) as err:
        raise TrustPolicyError(f"{where}: {err}") from None
