"""Stage what `install` verifies: a private copy of a directory, file or archive, or a fetched Git commit or release.

Every source becomes one bundle below the staging directory (`bundle/NAME`,
with a single file's signature files beside it), so that verification and
landing read only what this installer wrote there:

- a directory is copied, never following a link (`signing.staging`);
- a Git source is fetched at its pinned commit (`signing.sources.git`),
  and its tree copied the same way: the bundle's files are that commit's
  tree by construction, and what the fetch may write is bounded by its
  own limits (`FetchLimits`);
- a file, local or downloaded with the signature files published beside
  it (`signing.sources.url`), is staged with them, and an archive among
  them (`.tar.gz`, `.tgz`, `.zip`) extracted from that private copy.

The limits (`ArchiveLimits`) bound what is written into staging, counted
as it is written: a local directory's or file's copy by `max_bytes` and
`max_files` (a sparse file, or one growing as it is read, is stopped at the
cap, not copied whole first), any archive's extraction by all three. A
download itself is bounded by its own size cap (`RemoteOptions.max_size`).

Signature first, for archives: when a signature for the archive as a file
(`X.minisig` or `X.sigstore.json`) is beside it, the archive must verify as
a signed single file under the installer's policy before the archive
reader sees a byte of it (with a policy file, under the publisher its file
name matches), and the extracted bundle must then verify as well. Without
such a signature the archive is extracted as hostile input
(`signing.archive`) and the bundle's own signature decides. A server that
withholds the archive's signatures therefore reaches the archive reader,
but never installs anything the policy does not trust.
"""

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from attest.errors import ManifestError
from attest.manifest import check_path
from signing.archive import ArchiveLimits, extract_archive, is_archive
from signing.errors import BundleError, InstallRefused
from signing.files import PathLike
from signing.layout import FileLayout
from signing.policy import TrustPolicy
from signing.records import Origin
from signing.sources.fetch import RemoteOptions, fetch_source
from signing.sources.spec import GitSource, ReleaseSource, parse_source
from signing.staging import CopyBudget, Tally, copy_file, copy_tree, is_entry_name
from signing.trustfile import TrustFile
from signing.verify import Verdict, verify_bundle

Source = PathLike | GitSource | ReleaseSource
"""What `install` takes: a path (a `str` is read by `parse_source`: `git+https://...`, `https://...`, or a path)."""

BUNDLE_DIR = "bundle"
_FETCH_DIR = "fetch"


@dataclass(frozen=True)
class Staged:
    """The bundle in staging: its name, path, what it holds, where it came from, and how to name its source."""

    name: str
    path: Path
    tally: Tally
    origin: Origin
    shown: str
    """The source as the installer gave it, for messages."""

    @property
    def bundle(self) -> Path:
        """The `Verdict.bundle` of a refusal: the path given, or for a remote source the bundle's name."""
        return Path(self.shown) if self.origin.kind == "path" else Path(self.name)

    def landed_signatures(self, verdict: Verdict) -> list[str]:
        """The signature files of a single file that its verification read: only those land beside it."""
        if self.path.is_dir():
            return []
        read = {Path(path) for check in verdict.checks for path in check.data.get("signatures", ())}
        return sorted(path.name for path in read if path.parent == self.path.parent and path != self.path)


def as_source(source: Source) -> Path | GitSource | ReleaseSource:
    """A `str` as `parse_source` reads it; any other `os.PathLike` is a path, whatever it spells."""
    if isinstance(source, str):
        return parse_source(source)
    if isinstance(source, GitSource | ReleaseSource):
        return source
    return Path(source)


def stage(
    source: Path | GitSource | ReleaseSource,
    staging: Path,
    policy: TrustPolicy | TrustFile,
    limits: ArchiveLimits,
    remote: RemoteOptions,
) -> Staged:
    """Put `source` into the empty private directory `staging` as `staging/bundle/NAME`, by the module's rules.

    Raises `BundleError`/`ArchiveError` for a source that cannot be copied or
    extracted safely or within `limits`, `SourceError`/`SourceSpecError` for
    one that cannot be fetched as pinned, and `InstallRefused` for an archive
    whose signature as a file does not verify. What was written is left for the caller to
    remove with the staging directory.
    """
    into = staging / BUNDLE_DIR
    into.mkdir(mode=0o700)
    if isinstance(source, Path):
        return _stage_path(source, staging, into, policy, limits)
    fetched = fetch_source(source, staging / _FETCH_DIR, remote)
    if isinstance(source, GitSource):
        name = checked_name(fetched.path.name, str(source))
        tally = copy_tree(fetched.path, into / name, CopyBudget(str(source)))
        return Staged(name, into / name, tally, fetched.origin, str(source))
    return _stage_file(fetched.path, into, policy, limits, fetched.origin, str(source))


def checked_name(name: str, source: str) -> str:
    """A bundle name that is one safe path component, and not packseal's own state directory."""
    try:
        check_path(name)
    except ManifestError as err:
        raise BundleError(f"{source}: cannot be installed under the name {err}") from None
    if not is_entry_name(name):
        raise BundleError(f"{source}: cannot be installed under the name {name!r}")
    return name


def refused(shown: str, verdict: Verdict, bundle: Path, what: str = "refused") -> InstallRefused:
    """The refusal of a verdict, naming the source and the refusing check, with the verdict for the caller."""
    refusal = verdict.refusal
    detail = "" if refusal is None else f" at {refusal.name}: {refusal.detail}"
    return InstallRefused(f"{shown}: {what}{detail}", replace(verdict, bundle=bundle))


def _stage_path(
    source: Path, staging: Path, into: Path, policy: TrustPolicy | TrustFile, limits: ArchiveLimits
) -> Staged:
    """A local source: a directory copied as it is; a file copied with its signature files, then staged as one.

    What is copied counts against `limits.max_bytes` and `max_files`, signatures included, as an archive's
    `.packseal/` members do.
    """
    if not source.exists():
        raise BundleError(f"{source}: no such file or directory")
    resolved = source.resolve()
    origin = Origin(str(resolved))
    budget = CopyBudget(str(source), max_bytes=limits.max_bytes, max_files=limits.max_files)
    if resolved.is_dir():
        name = checked_name(resolved.name, str(source))
        return Staged(name, into / name, copy_tree(resolved, into / name, budget), origin, str(source))
    copies = staging / _FETCH_DIR
    copies.mkdir(mode=0o700)
    copy_file(resolved, copies / resolved.name, budget)
    for signature in sorted(FileLayout(resolved).signature_files()):
        if signature.exists() or signature.is_symlink():
            copy_file(signature, copies / signature.name, budget)
    return _stage_file(copies / resolved.name, into, policy, limits, origin, str(source))


def _stage_file(
    file: Path, into: Path, policy: TrustPolicy | TrustFile, limits: ArchiveLimits, origin: Origin, shown: str
) -> Staged:
    """A private file with its signature files beside it: an archive extracted (its signature first), else the file."""
    if is_archive(file):
        archive = _verified_archive(file, policy, origin, shown)
        name, tally = extract_archive(file, into, limits)
        name = checked_name(name, shown)
        return Staged(name, into / name, tally, replace(origin, archive=archive), shown)
    name = checked_name(file.name, shown)
    size = file.lstat().st_size
    for signature in FileLayout(file).signature_files():
        if os.path.lexists(signature):
            os.rename(signature, into / signature.name)
    os.rename(file, into / name)
    return Staged(name, into / name, Tally().add(size), origin, shown)


def _verified_archive(
    archive: Path, policy: TrustPolicy | TrustFile, origin: Origin, shown: str
) -> dict[str, Any] | None:
    """An archive signed as a file verified as one, before it is opened; None for one without such a signature."""
    layout = FileLayout(archive)
    if not (os.path.lexists(layout.minisig) or os.path.lexists(layout.sigstore)):
        return None
    verdict = verify_bundle(archive, policy)
    if not verdict.verified:
        bundle = Path(shown) if origin.kind == "path" else Path(archive.name)
        raise refused(
            shown, verdict, bundle, "the archive is signed as a file and must verify before it is opened; refused"
        )
    return {
        "name": archive.name,
        "digest": verdict.digest,
        "publisher": verdict.publisher,
        "signers": [signer.to_json() for signer in verdict.signers],
    }
