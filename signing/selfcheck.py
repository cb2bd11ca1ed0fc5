"""Startup self-check: refuse to run when the running binary is not the released one.

A daemon that spawns commands must not start if its own binary was swapped
for a trojan with the same command line. At release, `record_self` writes a
small canonical-JSON record of the binary's sha256 and size, signed with
minisign; at startup, `check_self` hashes the image the kernel is actually
executing (`/proc/self/exe`, which stays the started file even after the
path on disk was replaced) and compares. For a daemon written in Python the
interpreter alone proves little, so a record may also cover the installed
files of one distribution.

Every failure, including a missing or malformed record, or one not signed
by the given key, raises `SelfCheckError`: a daemon adds one call and fails
closed. This module runs
on every start, so it imports only what the check needs: `minisign` when a
key is used, `importlib.metadata` when a distribution is recorded, and
never `sigstore`.
"""

import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from attest.canonical import MAX_DOCUMENT_BYTES, canonical_json, parse_canonical_json
from attest.errors import AttestError
from signing.bundle import open_regular_file, read_regular_file
from signing.digest import FileDigest, digest_stream
from signing.errors import BundleError, OutputError, PacksealError, SelfCheckError
from signing.files import replace_together
from signing.roles import Role, RoleClaim

if TYPE_CHECKING:
    from importlib.metadata import Distribution

    import minisign

    from signing.backends.minisign import MinisignKeyring, MinisignSigner

RECORD_FORMAT = 1
ALGORITHM = "sha256"
RUNNING_IMAGE = Path("/proc/self/exe")
"""The file the kernel executes for this process, even once its path was replaced or removed."""

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_RECORD_KEYS = {"format", "algorithm", "digest", "size", "name", "packseal_version"}
_DISTRIBUTION_KEYS = {"name", "version", "files"}
_FILE_KEYS = {"path", "sha256", "size"}

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class DistributionFile:
    """One installed file of a distribution, by its path as the distribution's RECORD names it."""

    path: str
    digest: FileDigest

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.digest.sha256, "size": self.digest.size}


@dataclass(frozen=True)
class DistributionRecord:
    """The installed files of a Python distribution, hashed when the record was made."""

    name: str
    version: str
    files: tuple[DistributionFile, ...]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "files": [file.to_json() for file in self.files]}


@dataclass(frozen=True)
class SelfRecord:
    """What a released binary is: its digest and size, and who recorded it."""

    name: str
    digest: FileDigest
    packseal_version: str
    distribution: DistributionRecord | None = None

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "format": RECORD_FORMAT,
            "algorithm": ALGORITHM,
            "digest": self.digest.sha256,
            "size": self.digest.size,
            "name": self.name,
            "packseal_version": self.packseal_version,
        }
        if self.distribution is not None:
            value["distribution"] = self.distribution.to_json()
        return value

    @classmethod
    def from_json(cls, value: Any, *, what: str) -> "SelfRecord":
        """Read a record, refusing any field that is missing, unknown or of the wrong type."""
        fields = _object(value, _RECORD_KEYS, {"distribution"}, what=what)
        if fields["format"] != RECORD_FORMAT or fields["algorithm"] != ALGORITHM:
            raise SelfCheckError(
                f"{what}: unsupported record (format {fields['format']!r}, algorithm {fields['algorithm']!r})"
            )
        distribution = fields.get("distribution")
        return cls(
            name=_string(fields["name"], what=f"{what}: name"),
            digest=_file_digest(fields["digest"], fields["size"], what=what),
            packseal_version=_string(fields["packseal_version"], what=f"{what}: packseal_version"),
            distribution=None if distribution is None else _distribution_from_json(distribution, what=what),
        )


@dataclass(frozen=True)
class SelfCheckResult:
    """A passed self-check: which file was hashed, the record it matched, and who signed that record."""

    binary: str
    record: SelfRecord
    signer: str | None

    def to_json(self) -> dict[str, Any]:
        distribution = self.record.distribution
        return {
            "ok": True,
            "binary": self.binary,
            "name": self.record.name,
            "sha256": self.record.digest.sha256,
            "size": self.record.digest.size,
            "recorded_by": f"packseal {self.record.packseal_version}",
            "signer": self.signer,
            "distribution": None
            if distribution is None
            else {"name": distribution.name, "version": distribution.version, "files": len(distribution.files)},
        }


def signature_path(record: PathLike) -> Path:
    """Where a record's minisign signature lives: beside it, as `minisign -Vm RECORD` expects."""
    return Path(f"{os.fspath(record)}.minisig")


def running_image() -> Path:
    """The executable of this process: `/proc/self/exe` where it exists, else `sys.executable`."""
    if RUNNING_IMAGE.exists():
        return RUNNING_IMAGE
    if not sys.executable:
        raise SelfCheckError("cannot tell which executable is running: no /proc/self/exe and no sys.executable")
    return Path(sys.executable)


def record_self(
    binary: PathLike,
    out: PathLike,
    *,
    secret_key: "minisign.SecretKey | None" = None,
    include_distribution: str | None = None,
) -> SelfRecord:
    """Write the record of `binary` to `out`, and `out.minisig` when a secret key is given.

    Both files are written together or not at all. Without a key, an
    existing `out.minisig` is refused rather than left beside a record it
    does not cover.
    """
    from importlib.metadata import version

    record = SelfRecord(
        name=Path(binary).name,
        digest=_digest_file(Path(binary)),
        packseal_version=version("packseal"),
        distribution=None if include_distribution is None else _record_distribution(include_distribution),
    )
    data = canonical_json(record.to_json())
    signature = signature_path(out)
    if secret_key is not None:
        from signing.backends import minisign as minisign_backend

        comment = RoleClaim(Role.SELF_RECORD, record.digest.sha256).trusted_comment(record.name)
        replace_together({Path(out): data, signature: minisign_backend.sign(secret_key, data, comment)})
    elif os.path.lexists(signature):
        raise OutputError(f"{signature}: exists, and would not cover an unsigned record; remove it first")
    else:
        replace_together({Path(out): data})
    return record


def check_self(
    record_path: PathLike,
    *,
    public_key: "PathLike | MinisignKeyring | None" = None,
    binary: PathLike | None = None,
) -> SelfCheckResult:
    """Check that the running binary (or `binary`) is the one `record_path` describes.

    With `public_key` (a minisign public key file or a `MinisignKeyring`),
    the record must carry a valid signature by that key; without one, the
    record is trusted as it is on disk. Raises `SelfCheckError` on every
    failure, with a one-line reason: a daemon calls this and exits on error.
    """
    try:
        return _check(Path(record_path), public_key, binary)
    except SelfCheckError:
        raise
    except (PacksealError, AttestError) as err:
        raise SelfCheckError(str(err)) from None


def _check(
    record_path: Path, public_key: "PathLike | MinisignKeyring | None", binary: PathLike | None
) -> SelfCheckResult:
    """Verify the record's signature before parsing it, then hash and compare."""
    data = read_regular_file(record_path, MAX_DOCUMENT_BYTES, follow_symlinks=True)
    signer = None if public_key is None else _verify_signature(data, record_path, public_key)
    record = SelfRecord.from_json(parse_canonical_json(data, what=str(record_path)), what=str(record_path))
    if signer is not None and signer.claim is not None:
        signer.claim.require(RoleClaim(Role.SELF_RECORD, record.digest.sha256), where=str(signature_path(record_path)))
    image = running_image() if binary is None else Path(binary)
    actual = _digest_file(image)
    if actual != record.digest:
        raise SelfCheckError(
            f"{image}: sha256:{actual.sha256} ({actual.size} bytes) is not the recorded "
            f"sha256:{record.digest.sha256} ({record.digest.size} bytes) of {record.name}"
        )
    if record.distribution is not None:
        _check_distribution(record.distribution)
    return SelfCheckResult(binary=str(image), record=record, signer=None if signer is None else str(signer))


def _verify_signature(
    data: bytes, record_path: Path, public_key: "PathLike | MinisignKeyring"
) -> "MinisignSigner":
    from signing.backends.minisign import MinisignKeyring

    if not isinstance(public_key, MinisignKeyring):
        public_key = MinisignKeyring.from_files([Path(public_key)])
    return public_key.verify_statement(data, signature_path(record_path), Role.SELF_RECORD)


def _digest_file(path: Path) -> FileDigest:
    """Hash the open descriptor, so the bytes hashed are those of the file that was opened."""
    try:
        with open_regular_file(path, follow_symlinks=True) as stream:
            return digest_stream(stream)
    except FileNotFoundError:
        raise BundleError(f"{path}: missing") from None
    except OSError as err:
        raise BundleError(f"{path}: {err.strerror or err}") from None


def _record_distribution(name: str) -> DistributionRecord:
    """Hash every installed file of `name` its RECORD lists, except bytecode.

    RECORD's own hashes are not trusted: they say what was installed, not
    what is on disk now. Bytecode (`__pycache__`, `.pyc`) is left out
    because the interpreter rewrites it at run time.
    """
    distribution = _installed(name)
    if distribution.files is None:
        raise BundleError(f"distribution {name!r} lists no files (no RECORD); cannot record it")
    paths = sorted({path.as_posix() for path in distribution.files if not _is_bytecode(path)}, key=str.encode)
    files = tuple(DistributionFile(path, _digest_file(_located(distribution, path))) for path in paths)
    return DistributionRecord(name=distribution.metadata["Name"], version=distribution.version, files=files)


def _located(distribution: "Distribution", path: str) -> Path:
    """Where an installed file of a distribution is on disk."""
    return Path(str(distribution.locate_file(path)))


def _check_distribution(expected: DistributionRecord) -> None:
    """Every recorded file of the distribution this interpreter imports from must be unchanged.

    Its version needs no check of its own: METADATA is one of the files.
    """
    distribution = _installed(expected.name)
    for file in expected.files:
        actual = _digest_file(_located(distribution, file.path))
        if actual != file.digest:
            raise SelfCheckError(
                f"distribution {expected.name}: {file.path} is sha256:{actual.sha256} ({actual.size} bytes), "
                f"recorded sha256:{file.digest.sha256} ({file.digest.size} bytes)"
            )


def _installed(name: str) -> "Distribution":
    from importlib import metadata

    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise BundleError(f"distribution {name!r} is not installed") from None


def _is_bytecode(path: PurePosixPath) -> bool:
    return "__pycache__" in path.parts or path.suffix == ".pyc"


def _distribution_from_json(value: Any, *, what: str) -> DistributionRecord:
    fields = _object(value, _DISTRIBUTION_KEYS, set(), what=f"{what}: distribution")
    files = fields["files"]
    if not isinstance(files, list):
        raise SelfCheckError(f"{what}: distribution files must be a list")
    entries = tuple(_distribution_file(entry, what=f"{what}: distribution file") for entry in files)
    _check_sorted((entry.path for entry in entries), what=what)
    return DistributionRecord(
        name=_string(fields["name"], what=f"{what}: distribution name"),
        version=_string(fields["version"], what=f"{what}: distribution version"),
        files=entries,
    )


def _distribution_file(value: Any, *, what: str) -> DistributionFile:
    fields = _object(value, _FILE_KEYS, set(), what=what)
    path = _string(fields["path"], what=f"{what} path")
    if PurePosixPath(path).is_absolute():
        raise SelfCheckError(f"{what} {path!r}: must be relative to the distribution")
    return DistributionFile(path, _file_digest(fields["sha256"], fields["size"], what=f"{what} {path}"))


def _check_sorted(paths: Iterable[str], *, what: str) -> None:
    encoded = [path.encode() for path in paths]
    if any(first >= second for first, second in zip(encoded, encoded[1:])):
        raise SelfCheckError(f"{what}: distribution files are not sorted by path, or a path repeats")


def _object(value: Any, required: set[str], optional: set[str], *, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SelfCheckError(f"{what}: must be a JSON object")
    missing, unknown = required - value.keys(), value.keys() - required - optional
    if missing or unknown:
        raise SelfCheckError(f"{what}: missing fields {sorted(missing)}, unknown fields {sorted(unknown)}")
    return value


def _string(value: Any, *, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise SelfCheckError(f"{what}: must be a non-empty string")
    return value


def _file_digest(sha256: Any, size: Any, *, what: str) -> FileDigest:
    if not isinstance(sha256, str) or not _SHA256_HEX.fullmatch(sha256):
        raise SelfCheckError(f"{what}: sha256 must be 64 lowercase hex digits")
    if type(size) is not int or size < 0:
        raise SelfCheckError(f"{what}: size must be a non-negative integer")
    return FileDigest(sha256=sha256, size=size)
