"""Install records: what an install trusted, written beside the installed bundles in `DEST/.packseal-installs/<N>.json`.

A record says what was verified and landed (the bundle's digest, its files
and bytes, the entries it put in the install directory), whom it trusted
and how (the signers, the publisher, the policy and its digest), where it
came from (the source given, the provenance repository and commit), and
when. The next install of the same name compares against it, and only an
entry a record names is ever replaced. Where the bundle came from is its
`Origin`: a path, a release URL, or a Git repository and the commit fetched.
"""

import builtins
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signing.errors import BundleError, OutputError
from signing.files import read_regular_file
from signing.rollback import HighestInstalled
from signing.staging import is_entry_name

RECORD_FORMAT = 1
_MAX_RECORD_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Origin:
    """Where an installed bundle came from, as its install record, its audit event and the trust summary state it.

    `source` is what the installer gave: a resolved path, a release URL,
    or a Git source (`git+https://host/org/repo@<commit>`). A Git install
    adds the repository `url` and the `commit` whose tree the bundle is (and
    the `ref` checked to point at it, the `subdirectory`); a release URL adds
    `url`. `archive` is the archive verified as a signed file before it was
    opened: its name, `sha256:` digest and signers.
    """

    source: str
    kind: str = "path"
    """`path`, `url` or `git`."""
    url: str | None = None
    commit: str | None = None
    ref: str | None = None
    subdirectory: str | None = None
    archive: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "url": self.url,
            "commit": self.commit,
            "ref": self.ref,
            "subdirectory": self.subdirectory,
            "archive": None if self.archive is None else dict(self.archive),
        }

    @classmethod
    def from_json(cls, value: Any) -> "Origin":
        if not isinstance(value, dict) or set(value) != set(cls(source="").to_json()):
            raise ValueError("malformed origin")
        return cls(**value)


@dataclass(frozen=True)
class InstallRecord:
    """One installed bundle, as its install recorded it."""

    name: str
    digest: str
    signers: tuple[Mapping[str, str], ...]
    publisher: str | None
    method: str
    """How trust was decided, in words: the policy file, or the trust options, and the lock file if any."""
    policy_digest: str | None
    provenance: Mapping[str, str | None] | None
    """`repository`, `commit`, `ref`, `builder_id` of the verified provenance, when a check verified it."""
    source: str
    installed_at: str
    """UTC, ISO 8601."""
    files: int
    bytes: int
    entries: tuple[str, ...]
    """The names this install put in the install directory: the bundle, and a single file's signature files."""
    version: str | None = None
    """The bundle's signed version; None for an unversioned bundle."""
    highest: HighestInstalled | None = None
    """The highest version ever installed under this name here, kept across downgrades (`signing.rollback`)."""
    downgrade: str | None = None
    """The rollback refusal that `--allow-downgrade` overrode for this install, if one did."""
    origin: Origin | None = None
    """Where the bundle came from; None in a record written before origins were recorded."""

    @property
    def commit(self) -> str | None:
        return None if self.provenance is None else self.provenance.get("commit")

    def to_json(self) -> dict[str, Any]:
        return {
            "format": RECORD_FORMAT,
            "name": self.name,
            "digest": self.digest,
            "signers": [dict(signer) for signer in self.signers],
            "publisher": self.publisher,
            "method": self.method,
            "policy_digest": self.policy_digest,
            "provenance": None if self.provenance is None else dict(self.provenance),
            "source": self.source,
            "installed_at": self.installed_at,
            "files": self.files,
            "bytes": self.bytes,
            "entries": list(self.entries),
            "version": self.version,
            "highest": None if self.highest is None else self.highest.to_json(),
            "downgrade": self.downgrade,
            "origin": None if self.origin is None else self.origin.to_json(),
        }

    def to_bytes(self) -> builtins.bytes:
        return (json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def read(cls, path: Path) -> "InstallRecord | None":
        """The record at `path`; None when there is none; `OutputError` for one that cannot be read as a record.

        A damaged record is refused, not ignored: it is what says which
        entries of the install directory packseal may replace.
        """
        try:
            data = read_regular_file(path, _MAX_RECORD_BYTES)
        except BundleError as err:
            if not path.exists() and not path.is_symlink():
                return None
            raise OutputError(f"install record {err}") from None
        try:
            document = json.loads(data)
            if document.get("format") != RECORD_FORMAT:
                raise ValueError(f"format {document.get('format')!r}, expected {RECORD_FORMAT}")
            return cls(
                name=_typed(document, "name", str),
                digest=_typed(document, "digest", str),
                signers=tuple(_typed(document, "signers", list)),
                publisher=document["publisher"],
                method=_typed(document, "method", str),
                policy_digest=document["policy_digest"],
                provenance=document["provenance"],
                source=_typed(document, "source", str),
                installed_at=_typed(document, "installed_at", str),
                files=_typed(document, "files", int),
                bytes=_typed(document, "bytes", int),
                entries=_entries(document),
                version=_optional_string(document, "version"),
                highest=HighestInstalled.from_json(document["highest"]),
                downgrade=_optional_string(document, "downgrade"),
                origin=None if document.get("origin") is None else Origin.from_json(document["origin"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise OutputError(f"{path}: not an install record ({err}); move it away to install again") from None


def _typed(document: Mapping[str, Any], key: str, kind: type) -> Any:
    value = document[key]
    if not isinstance(value, kind):
        raise TypeError(f"{key!r} is not {kind.__name__}")
    return value


def _entries(document: Mapping[str, Any]) -> tuple[str, ...]:
    """The entries a record names: each one name in the install directory, as the next install moves or removes them."""
    entries = tuple(_typed(document, "entries", list))
    for entry in entries:
        if not is_entry_name(entry):
            raise ValueError(f"entry {entry!r} is not one name in the install directory")
    return entries


def _optional_string(document: Mapping[str, Any], key: str) -> str | None:
    value = document[key]
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{key!r} is not a string or null")
    return value
