"""Install a bundle with no gap between what is verified and what lands: copy, verify the copy, rename it in.

The module is `installer`, not `install`: importing a submodule named
`install` would replace the `signing.install` function with the module.

`install` copies the source (a directory, an archive, or a single file with
its signature files), or fetches it (a Git commit, a release URL), into a
private staging directory on the install directory's filesystem
(`signing.sources.stage`), verifies that copy under the installer's policy,
and lands exactly it by rename (`signing.landing`), with its install record
(`signing.records`). Whoever can write the source after the copy changes
nothing that lands.

One installer at a time works in an install directory (`flock` on its
state directory, `signing.staging.InstallState`), and each first finishes
or undoes a landing an earlier one left cut short. On any failure the
staging directory is removed and the install directory is as it was, down
to its listing: a state directory (`DEST/.packseal-installs/`) that the
failed install created goes too. An install that returned is durable:
everything staged is written to disk before the first rename, and the
directories renamed into are fsynced after the last, so a power cut, like
a kill, leaves at worst a landing the next install finishes or undoes,
from data on disk (`signing.landing`). Every install and every refusal is
an audit event (`signing.audit`), except a dry run, which writes nothing
at all.
"""

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from attest.provenance import Provenance
from signing.archive import ArchiveLimits
from signing.audit import AuditEvent, AuditLog
from signing.backends import Signer
from signing.errors import BundleError, InstallRefused, OutputError, SourceError
from signing.files import PathLike
from signing.landing import Move, land, recover
from signing.pins import LockFile
from signing.policy import TrustPolicy
from signing.progress import Progress
from signing.records import InstallRecord, Origin
from signing.rollback import HighestInstalled, RollbackDecision, check_rollback
from signing.schemas import JSON_SCHEMA_VERSION
from signing.sources.fetch import RemoteOptions
from signing.sources.stage import BUNDLE_DIR, Source, Staged, as_source, refused, stage
from signing.staging import STATE_DIR, InstallState
from signing.trustfile import TrustFile
from signing.verify import Verdict, verify_bundle, verify_locked_bundle
from signing.versions import Scheme

DEFAULT_LIMITS = ArchiveLimits()
DEFAULT_REMOTE = RemoteOptions()
_RECORD_NAME = "record.json"


@dataclass(frozen=True)
class Installed:
    """A bundle that verified and landed at `path` (or, in a dry run, would land there).

    `record` is the install record written, None in a dry run; `replaced`
    the record of the install it replaced, if any; `origin` where it came from.
    """

    name: str
    path: Path
    digest: str
    publisher: str | None
    signers: tuple[Signer, ...]
    provenance: Provenance | None
    files: int
    bytes: int
    record: Path | None
    replaced: InstallRecord | None
    verdict: Verdict
    origin: Origin
    version: str | None = None
    """The bundle's signed version; None for an unversioned bundle."""
    highest: HighestInstalled | None = None
    """The highest version installed under this name, this install included: what its record keeps."""
    downgrade: str | None = None
    """The rollback refusal that `allow_downgrade` overrode, when this install is a downgrade."""

    def changes(self) -> dict[str, tuple[Any, Any]]:
        """What differs from the install replaced: `version`, `digest`, `signers`, `commit`, each as (before, after)."""
        if self.replaced is None:
            return {}
        now = {
            "version": self.version,
            "digest": self.digest,
            "signers": [signer.to_json() for signer in self.signers],
            "commit": None if self.provenance is None else self.provenance.source_commit,
        }
        replaced = self.replaced
        before = {
            "version": replaced.version,
            "digest": replaced.digest,
            "signers": list(replaced.signers),
            "commit": replaced.commit,
        }
        return {key: (before[key], now[key]) for key in now if before[key] != now[key]}

    def to_json(self) -> dict[str, Any]:
        """As `install --json` prints it (`signing/schemas/output.schema.json`)."""
        return {
            "schema": JSON_SCHEMA_VERSION,
            "verified": True,
            "installed": self.record is not None,
            "dry_run": self.record is None,
            "name": self.name,
            "path": str(self.path),
            "digest": self.digest,
            "version": self.version,
            "highest": None if self.highest is None else self.highest.to_json(),
            "downgrade": self.downgrade,
            "publisher": self.publisher,
            "signers": [signer.to_json() for signer in self.signers],
            "provenance": _provenance_json(self.provenance),
            "files": self.files,
            "bytes": self.bytes,
            "record": None if self.record is None else str(self.record),
            "replaced": None if self.replaced is None else self.replaced.to_json(),
            "changes": {key: {"before": old, "after": new} for key, (old, new) in self.changes().items()},
            "checks": [check.to_json() for check in self.verdict.checks],
            "origin": self.origin.to_json(),
        }


def install(
    source: Source,
    dest: PathLike,
    policy: TrustPolicy | TrustFile,
    *,
    lock: LockFile | None = None,
    dry_run: bool = False,
    limits: ArchiveLimits = DEFAULT_LIMITS,
    audit: AuditLog | None = None,
    announce: Callable[[Installed], None] | None = None,
    allow_downgrade: bool = False,
    remote: RemoteOptions = DEFAULT_REMOTE,
    progress: Progress | None = None,
) -> Installed:
    """Verify `source` under `policy` (and `lock`) and land it as `dest/<name>`; return what landed.

    `source` is a path, a `GitSource`, a `ReleaseSource`, or a `str` read
    by `parse_source` (`git+https://host/org/repo@<commit>[#subdirectory=p]`,
    `https://host/path/pack-1.2.0.tar.gz`, or a path); `remote` says how a
    remote one is fetched (`signing.sources.stage` has the rules). The name
    is a directory's own name, an archive's one top-level directory, a
    single file's name, or a Git source's subdirectory or repository name.
    From Git, when provenance is required, it must name the repository
    fetched. Raises `InstallRefused` (carrying the `Verdict` of the staged
    copy) when verification refuses the bundle, or an archive's signature
    as a file; `ArchiveError` or `BundleError` for a source that cannot be
    copied or extracted safely; `SourceError` for one not fetched as
    pinned; `SourceSpecError` for one given wrongly; `OutputError` when the
    install directory cannot take it (for example an entry there that no
    install record names). In each case the install directory is
    unchanged. `announce` hears of the verified bundle before it lands:
    how the command line prints the trust summary first. `progress` is told
    of the staged files as they are hashed (and `remote.progress` of a download).

    `dry_run` stages in a temporary directory outside `dest`, verifies,
    announces, and writes nothing: no landing, no record, no audit event.
    Every other outcome is appended to `audit` (`AuditLog.default()` when None).

    Rollback protection (`signing.rollback`) refuses, as the `rollback` check
    of the verdict, a version below the highest ever installed under the
    name in `dest`, the same version with another digest, an unversioned
    bundle after a versioned one, and a version the publisher's versioning
    cannot parse; `allow_downgrade` installs it anyway, recorded as a
    downgrade in the install record and the audit event (`downgrade`).
    """
    given, dest = as_source(source), Path(dest)
    state = InstallState(dest)
    if dry_run:
        with tempfile.TemporaryDirectory(prefix="packseal-dry-run-") as temporary:
            staged = stage(given, Path(temporary), policy, limits, remote)
            installed = _verified(
                staged, state, policy, lock, record=None, allow_downgrade=allow_downgrade, progress=progress
            )
            if announce is not None:
                announce(installed)
            return installed
    log = AuditLog.default() if audit is None else audit
    trust = _Trust.of(policy, lock)
    with _refusals_audited(log, str(given), trust), state.prepared():
        for leftover in state.stagings():
            recover(leftover, dest)
        staging = state.new_staging()
        try:
            staged = stage(given, staging, policy, limits, remote)
            record = state.record_path(staged.name)
            installed = _verified(
                staged, state, policy, lock, record=record, allow_downgrade=allow_downgrade, progress=progress
            )
            moves = _moves(staged, installed, state, trust)
            if announce is not None:
                announce(installed)
            land(staging, dest, moves)
        finally:
            if staging.exists():
                recover(staging, dest)
    log.append(_event(installed, trust))
    return installed


def read_installed(dest: PathLike, name: str) -> InstallRecord | None:
    """The install record of bundle `name` in `dest`, after finishing or undoing any landing cut short there.

    A read: it creates nothing, and an install directory without packseal's
    state directory has nothing installed.
    """
    state = InstallState(Path(dest))
    with state.present() as present:
        if not present:
            return None
        for leftover in state.stagings():
            recover(leftover, state.dest)
        return InstallRecord.read(state.record_path(name))


def _verified(
    staged: Staged,
    state: InstallState,
    policy: TrustPolicy | TrustFile,
    lock: LockFile | None,
    *,
    record: Path | None,
    allow_downgrade: bool,
    progress: Progress | None,
) -> Installed:
    fetched_from = staged.origin.url if staged.origin.kind == "git" else None
    if lock is None:
        verdict = verify_bundle(staged.path, policy, fetched_from=fetched_from, progress=progress)
    else:
        verdict = verify_locked_bundle(staged.path, policy, lock, fetched_from=fetched_from, progress=progress)
    replaced = InstallRecord.read(state.record_path(staged.name))
    rollback = _rollback(verdict, replaced, policy, staged.name, allow_downgrade)
    if rollback is not None:
        verdict = replace(verdict, checks=(*verdict.checks, rollback.check))
    if not verdict.verified or verdict.digest is None or rollback is None:
        raise refused(staged.shown, verdict, staged.bundle)
    return Installed(
        name=staged.name,
        path=state.dest / staged.name,
        digest=verdict.digest,
        publisher=verdict.publisher,
        signers=verdict.signers,
        provenance=verdict.provenance,
        files=staged.tally.files,
        bytes=staged.tally.bytes,
        record=record,
        replaced=replaced,
        verdict=verdict,
        origin=staged.origin,
        version=verdict.version,
        highest=rollback.highest,
        downgrade=rollback.downgrade,
    )


def _rollback(
    verdict: Verdict, replaced: InstallRecord | None, policy: TrustPolicy | TrustFile, name: str, allow_downgrade: bool
) -> RollbackDecision | None:
    """Rollback protection for a verified bundle, under its publisher's versioning; None for a refused bundle."""
    if not verdict.verified or verdict.digest is None:
        return None
    scheme = policy.publisher_for(name).versioning if isinstance(policy, TrustFile) else Scheme.PEP440
    highest = None if replaced is None else replaced.highest
    return check_rollback(verdict.version, verdict.digest, highest, scheme, allow_downgrade=allow_downgrade)


def _moves(staged: Staged, installed: Installed, state: InstallState, trust: "_Trust") -> list[Move]:
    """What lands: signature files, the record, and the bundle last; and what the previous install had that goes.

    Only entries a previous record names are replaced or removed: anything
    else in the install directory under a name this install needs is not
    packseal's to overwrite.
    """
    signatures = staged.landed_signatures(installed.verdict)
    entries = (*signatures, staged.name)
    previous = () if installed.replaced is None else installed.replaced.entries
    for name in entries:
        if os.path.lexists(state.dest / name) and name not in previous:
            raise OutputError(f"{state.dest / name}: exists, and no install record names it; move it away first")
    record = _record(installed, staged, entries, trust)
    (staged.path.parent.parent / _RECORD_NAME).write_bytes(record.to_bytes())
    return [
        *(Move(f"{BUNDLE_DIR}/{name}", name) for name in signatures),
        *(Move(None, name) for name in previous if name not in entries),
        Move(_RECORD_NAME, f"{STATE_DIR}/{staged.name}.json"),
        Move(f"{BUNDLE_DIR}/{staged.name}", staged.name),
    ]


def _record(installed: Installed, staged: Staged, entries: tuple[str, ...], trust: "_Trust") -> InstallRecord:
    return InstallRecord(
        name=installed.name,
        digest=installed.digest,
        signers=tuple(signer.to_json() for signer in installed.signers),
        publisher=installed.publisher,
        method=f"{trust.method}; checks: {', '.join(check.name for check in installed.verdict.checks)}",
        policy_digest=trust.policy_digest,
        provenance=_provenance_json(installed.provenance),
        source=staged.origin.source,
        installed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        files=installed.files,
        bytes=installed.bytes,
        entries=entries,
        version=installed.version,
        highest=installed.highest,
        downgrade=installed.downgrade,
        origin=staged.origin,
    )


@dataclass(frozen=True)
class _Trust:
    """How trust was decided, as records and audit events state it."""

    method: str
    policy_digest: str | None

    @classmethod
    def of(cls, policy: TrustPolicy | TrustFile, lock: LockFile | None) -> "_Trust":
        if isinstance(policy, TrustFile):
            method, digest = f"trust policy file {policy.path}", policy.digest
        else:
            systems = sorted({verifier.system for verifier in policy.verifiers})
            method, digest = f"trusted {' and '.join(systems)} signers given by the installer", None
        return cls(method if lock is None else f"{method}, pinned by lock file {lock.path}", digest)


def _provenance_json(provenance: Provenance | None) -> dict[str, str | None] | None:
    if provenance is None:
        return None
    return {
        "repository": provenance.source_repository,
        "commit": provenance.source_commit,
        "ref": provenance.source_ref,
        "builder_id": provenance.builder_id,
    }


@contextlib.contextmanager
def _refusals_audited(log: AuditLog, source: str, trust: _Trust) -> Iterator[None]:
    """Append an `install-refused` event for a refusal of the bundle or its source, then let it propagate."""
    try:
        yield
    except InstallRefused as err:
        verdict = err.verdict
        log.append(
            AuditEvent(
                action="install-refused",
                bundle=verdict.bundle.name,
                verdict="refused",
                digest=verdict.digest,
                signers=tuple(signer.to_json() for signer in verdict.signers),
                policy_digest=trust.policy_digest,
                detail={
                    "source": source,
                    "check": verdict.refusal.name if verdict.refusal else None,
                    "reason": str(err),
                },
            )
        )
        raise
    except (BundleError, SourceError) as err:
        log.append(
            AuditEvent(
                action="install-refused",
                bundle=source,
                verdict="refused",
                policy_digest=trust.policy_digest,
                detail={"source": source, "reason": str(err)},
            )
        )
        raise


def _event(installed: Installed, trust: _Trust) -> AuditEvent:
    provenance = _provenance_json(installed.provenance) or {}
    return AuditEvent(
        action="install" if installed.downgrade is None else "downgrade",
        bundle=installed.name,
        verdict="verified",
        digest=installed.digest,
        signers=tuple(signer.to_json() for signer in installed.signers),
        policy_digest=trust.policy_digest,
        detail={
            "source": installed.origin.source,
            "origin": installed.origin.to_json(),
            "publisher": installed.publisher,
            "repository": provenance.get("repository"),
            "commit": provenance.get("commit"),
            "replaced": None if installed.replaced is None else installed.replaced.digest,
            "record": str(installed.record),
            "version": installed.version,
            "highest": None if installed.highest is None else installed.highest.version,
            "downgrade": installed.downgrade,
        },
    )
