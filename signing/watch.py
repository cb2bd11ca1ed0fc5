"""Drift and phantom detection: what lies under a directory now, against a recorded state.

An installer verifies a bundle once, when it lands; a daemon then loads it
on every start. Anything that can write there later can rewrite an
installed manifest or plugin (drift), drop a new one beside the others
(phantom), or delete one (removed). `record_watch` records every installed
bundle (a directory holding `.packseal/`, every file of it, signatures
included), every file matching the patterns outside bundles, and every
link to a directory outside bundles; `Watcher.check` reports each as
unchanged, drifted, phantom or removed.

What counts as a bundle is what a loader could take for one: a directory
with an entry `.packseal` of any kind (a link to a directory too, since a
loader's `is_dir()` follows it) in any letter case (a case-insensitive
filesystem folds it). A link to a directory is watched as a link, by its
target: a loader following it may find bundles there, so one that appears
is a phantom and one retargeted is drift; what lies behind it is not read.
Nothing below the watched directory is skipped by its name alone, except
packseal's staging directories (`stage-*` directly in a
`.packseal-installs/`), which hold a bundle only while it is installed;
install records beside them are watched, so one rewritten is drift.

A daemon calls `check` every tick, so it is cheap when nothing changed: a
file whose `lstat` fingerprint (device, inode, size, mode, mtime, ctime)
is the one recorded is not read again. Writing a file, `utime` on it, or
renaming another over it moves its ctime, which no unprivileged process can
set back. A fingerprint taken less than `RACY_NANOSECONDS` after the file's
ctime may predate a write in the same clock tick (Git calls such index
entries racy), so that file is hashed. `paranoid=True` hashes every file
every time, for an attacker who can move the clock or write below the
filesystem.
"""

import fnmatch
import os
import stat
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attest.canonical import canonical_json, parse_canonical_json
from attest.errors import os_error_line
from attest.manifest import SIGNATURE_DIR
from attest.statement import SHA256_HEX
from signing.audit import AuditEvent
from signing.digest import file_digest
from signing.documents import read_document
from signing.errors import BundleError, TrustPolicyError
from signing.files import PathLike, file_kind
from signing.roles import Role
from signing.staging import STAGING_PREFIX, STATE_DIR

if TYPE_CHECKING:
    from signing.backends.minisign import MinisignKeyring, MinisignSigner

DEFAULT_PATTERNS = ("*.toml", "*.json")
STATE_FORMAT = 1
RACY_NANOSECONDS = 2_000_000_000
"""How long after a file's last change its fingerprint stops being trusted alone: well above any clock tick."""
AUDIT_NAMES_BYTES = 64 * 1024
"""How many bytes of file names one change's audit event lists, far below an audit line's limit."""


class Status(StrEnum):
    """What became of a watched item, by its stable name."""

    UNCHANGED = "unchanged"
    DRIFTED = "drifted"
    """Still there, but a file of it has other content, mode or kind, or files were added or removed."""
    PHANTOM = "phantom"
    """Not recorded: a bundle or matching file that appeared since."""
    REMOVED = "removed"


_AUDIT_ACTIONS = {Status.DRIFTED: "drift", Status.PHANTOM: "phantom", Status.REMOVED: "removed"}


class Kind(StrEnum):
    BUNDLE = "bundle"
    FILE = "file"
    """A file matching a pattern, or a link to a directory (watched by its target)."""


@dataclass(frozen=True)
class Fingerprint:
    """What `lstat` says of a file; equal fingerprints, not racy, mean the content was not rewritten."""

    device: int
    inode: int
    mode: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, status: os.stat_result) -> "Fingerprint":
        return cls(status.st_dev, status.st_ino, status.st_mode, status.st_size, status.st_mtime_ns, status.st_ctime_ns)

    def to_json(self) -> str:
        """Colon-separated decimal integers: nanosecond times exceed the integers JSON carries exactly."""
        return ":".join(map(str, (self.device, self.inode, self.mode, self.size, self.mtime_ns, self.ctime_ns)))

    @classmethod
    def from_json(cls, value: Any) -> "Fingerprint":
        numbers = _string(value).split(":")
        if len(numbers) != 6 or not all(number.isascii() and number.isdigit() for number in numbers):
            raise ValueError(f"stat {value!r} is not six colon-separated integers")
        return cls(*map(int, numbers))


@dataclass(frozen=True)
class Content:
    """A file as a loader sees it: a regular file's sha256 and executable bit, or a link's target."""

    sha256: str | None = None
    executable: bool = False
    target: str | None = None

    def to_json(self) -> dict[str, Any]:
        if self.target is not None:
            return {"target": self.target}
        return {"sha256": self.sha256, "executable": self.executable}


@dataclass(frozen=True)
class WatchedFile:
    """One file as recorded: its path below the watched directory, content, and fingerprint then."""

    path: str
    content: Content
    fingerprint: Fingerprint

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, **self.content.to_json(), "stat": self.fingerprint.to_json()}


@dataclass(frozen=True)
class WatchedItem:
    """A bundle, with every file below it, or a single matching file (whose one file has its own path)."""

    kind: Kind
    path: str
    files: tuple[WatchedFile, ...]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "path": self.path, "files": [file.to_json() for file in self.files]}


@dataclass(frozen=True)
class WatchState:
    """Everything `record_watch` found, in the form written to the state file."""

    patterns: tuple[str, ...]
    recorded_ns: int
    items: tuple[WatchedItem, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "patterns": list(self.patterns),
            "recorded_ns": str(self.recorded_ns),
            "items": [item.to_json() for item in self.items],
        }

    @classmethod
    def from_bytes(cls, data: bytes, *, what: str) -> "WatchState":
        """Parse a state file, refusing anything but the exact form `record_watch` writes."""
        try:
            return _state_from_json(parse_canonical_json(data, what=what))
        except (KeyError, TypeError, ValueError) as err:
            raise TrustPolicyError(f"{what}: not a packseal watch state ({err})") from None


@dataclass(frozen=True)
class ItemReport:
    """One item's status now; for a drifted bundle, which of its files differ."""

    kind: Kind
    path: str
    status: Status
    changed: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "path": self.path,
            "status": self.status.value,
            "changed": list(self.changed),
            "missing": list(self.missing),
            "extra": list(self.extra),
        }

    @property
    def detail(self) -> str:
        """The differences in one line: `changed a, b; extra c`."""
        parts = [f"{name} {', '.join(paths)}" for name, paths in self._differences() if paths]
        return "; ".join(parts)

    def audit_event(self, root: PathLike) -> AuditEvent:
        """The audit event of this change: its path below `root`, status, and the files it names, within bounds.

        Whoever drifts a bundle chooses how many files it names, and an
        audit line has a length limit (`signing.audit.MAX_LINE_BYTES`), so
        each list holds its first names up to `AUDIT_NAMES_BYTES` in all,
        and its full length as `<list>_count`; the report itself is whole.
        """
        detail: dict[str, Any] = {"path": str(Path(root) / self.path), "kind": self.kind.value}
        detail["status"] = self.status.value
        budget = AUDIT_NAMES_BYTES
        for name, paths in self._differences():
            kept = []
            for path in paths:
                budget -= len(path.encode("utf-8", "surrogateescape")) + 8
                if budget < 0:
                    break
                kept.append(path)
            detail[name], detail[f"{name}_count"] = kept, len(paths)
        return AuditEvent(action=_AUDIT_ACTIONS[self.status], bundle=self.path, verdict="refused", detail=detail)

    def _differences(self) -> Iterator[tuple[str, tuple[str, ...]]]:
        yield "changed", self.changed
        yield "missing", self.missing
        yield "extra", self.extra


@dataclass(frozen=True)
class WatchReport:
    """Every item recorded or found now; unchanged only when every item is."""

    items: tuple[ItemReport, ...]

    @property
    def unchanged(self) -> bool:
        return all(item.status is Status.UNCHANGED for item in self.items)

    def __bool__(self) -> bool:
        return self.unchanged

    @property
    def changes(self) -> tuple[ItemReport, ...]:
        return tuple(item for item in self.items if item.status is not Status.UNCHANGED)


def record_watch(root: PathLike, *, patterns: tuple[str, ...] = DEFAULT_PATTERNS) -> WatchState:
    """Hash and fingerprint every bundle and matching file under `root` as it is now.

    A special file (FIFO, device, socket) inside a bundle or matching a
    pattern is refused: nothing a loader should read is one.
    """
    root = Path(root)
    if not patterns:
        raise TrustPolicyError("no file pattern to watch: give at least one")
    recorded_ns = time.time_ns()
    items = []
    for path, kind in sorted(_scan(root, patterns).items()):
        files = tuple(
            WatchedFile(relative, _content(location, status), Fingerprint.of(status))
            for relative, (location, status) in sorted(_files_of(root, path, kind).items())
        )
        items.append(WatchedItem(kind, path, files))
    return WatchState(tuple(patterns), recorded_ns, tuple(items))


def write_state(state: WatchState) -> bytes:
    """The bytes of a state file: canonical JSON, so its digest is what a signature names."""
    return canonical_json(state.to_json())


def read_state(
    path: PathLike, *, public_key: "PathLike | MinisignKeyring | None" = None, allow_unsigned: bool = False
) -> "tuple[WatchState, MinisignSigner | None]":
    """A state file and who signed it, parsed only after its `watch-state` signature by `public_key` verified.

    A state decides what counts as unchanged, so it fails closed as `watch
    check` does: with no key, only `allow_unsigned=True` reads it, and never
    a state that carries a signature (`signing.documents.read_document`).
    """
    data, signer = read_document(path, Role.WATCH_STATE, public_key=public_key, allow_unsigned=allow_unsigned)
    return WatchState.from_bytes(data, what=str(path)), signer


@dataclass
class Watcher:
    """A directory checked against a recorded state, tick after tick.

    Holds the fingerprint each file had when its content was last found
    unchanged, so a tick after a harmless `touch` does not hash that file
    again; the state file itself is never rewritten.
    """

    root: Path
    state: WatchState
    _known: dict[str, tuple[Fingerprint, int]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        for item in self.state.items:
            for file in item.files:
                self._known[file.path] = (file.fingerprint, self.state.recorded_ns)

    def check(self, *, paranoid: bool = False) -> WatchReport:
        """Every recorded item's status, then every phantom; reads a file only when its fingerprint moved."""
        found = _scan(self.root, self.state.patterns)
        reports = [self._item(item, found, paranoid) for item in self.state.items]
        recorded = {item.path for item in self.state.items}
        reports.extend(
            ItemReport(kind, path, Status.PHANTOM) for path, kind in sorted(found.items()) if path not in recorded
        )
        return WatchReport(tuple(reports))

    def _item(self, item: WatchedItem, found: Mapping[str, Kind], paranoid: bool) -> ItemReport:
        if found.get(item.path) is not item.kind:
            return ItemReport(item.kind, item.path, Status.REMOVED)
        now = _files_of(self.root, item.path, item.kind)
        recorded = {file.path: file for file in item.files}
        changed = tuple(
            path for path, file in recorded.items() if path in now and not self._same(file, *now[path], paranoid)
        )
        missing = tuple(path for path in recorded if path not in now)
        extra = tuple(sorted(path for path in now if path not in recorded))
        if changed or missing or extra:
            return ItemReport(item.kind, item.path, Status.DRIFTED, changed, missing, extra)
        return ItemReport(item.kind, item.path, Status.UNCHANGED)

    def _same(self, file: WatchedFile, location: Path, status: os.stat_result, paranoid: bool) -> bool:
        """Whether a file still has its recorded content; the fingerprint alone decides when it can."""
        taken_ns = time.time_ns()
        fingerprint = Fingerprint.of(status)
        known, known_taken_ns = self._known[file.path]
        if not paranoid and fingerprint == known and known_taken_ns - fingerprint.ctime_ns >= RACY_NANOSECONDS:
            return True
        try:
            same = _content(location, status) == file.content
        except BundleError:
            return False
        if same:
            self._known[file.path] = (fingerprint, taken_ns)
        return same


def _scan(root: Path, patterns: tuple[str, ...]) -> dict[str, Kind]:
    """Every bundle and matching file below `root`, by path; a bundle's inside is its own, never scanned."""
    if not root.is_dir():
        raise BundleError(f"{root}: not a directory")
    found: dict[str, Kind] = {}
    pending = [(root, "")]
    while pending:
        directory, prefix = pending.pop()
        children = _listing(directory)
        if any(child.name.casefold() == SIGNATURE_DIR for child in children):
            found[prefix.rstrip("/") or "."] = Kind.BUNDLE
            continue
        for child in children:
            if child.is_dir(follow_symlinks=False):
                if not (directory.name == STATE_DIR and child.name.startswith(STAGING_PREFIX)):
                    pending.append((Path(child.path), f"{prefix}{child.name}/"))
            elif any(fnmatch.fnmatchcase(child.name, pattern) for pattern in patterns) or _links_to_directory(child):
                found[prefix + child.name] = Kind.FILE
    return found


def _links_to_directory(child: os.DirEntry[str]) -> bool:
    """Whether `child` is a link a loader would follow into a directory (an unreadable target counts as none)."""
    return child.is_symlink() and os.path.isdir(child.path)


def _files_of(root: Path, path: str, kind: Kind) -> dict[str, tuple[Path, os.stat_result]]:
    """Each file of an item (a bundle's every file and link, `.packseal/` included), with its `lstat`."""
    location = root / path
    if kind is Kind.FILE:
        return {path: (location, _lstat(location))}
    files: dict[str, tuple[Path, os.stat_result]] = {}
    prefix = "" if path == "." else f"{path}/"
    pending = [(location, prefix)]
    while pending:
        directory, directory_prefix = pending.pop()
        for child in _listing(directory):
            status = _lstat(Path(child.path))
            if stat.S_ISDIR(status.st_mode):
                pending.append((Path(child.path), f"{directory_prefix}{child.name}/"))
            else:
                files[directory_prefix + child.name] = (Path(child.path), status)
    return files


def _content(location: Path, status: os.stat_result) -> Content:
    if stat.S_ISLNK(status.st_mode):
        try:
            return Content(target=os.readlink(location))
        except OSError as err:
            raise BundleError(os_error_line(location, err)) from None
    if not stat.S_ISREG(status.st_mode):
        raise BundleError(f"{location}: {file_kind(status.st_mode)} is never watched content")
    return Content(sha256=file_digest(location).sha256, executable=bool(status.st_mode & 0o111))


def _listing(directory: Path) -> list[os.DirEntry[str]]:
    try:
        return sorted(os.scandir(directory), key=lambda child: child.name)
    except OSError as err:
        raise BundleError(os_error_line(directory, err)) from None


def _lstat(location: Path) -> os.stat_result:
    try:
        return location.lstat()
    except OSError as err:
        raise BundleError(os_error_line(location, err)) from None


def _state_from_json(value: Any) -> WatchState:
    _keys(value, {"format", "patterns", "recorded_ns", "items"})
    if value["format"] != STATE_FORMAT:
        raise ValueError(f"format {value['format']!r}, this version reads format {STATE_FORMAT}")
    patterns = tuple(_string(pattern) for pattern in _list(value["patterns"]))
    items = tuple(_item_from_json(item) for item in _list(value["items"]))
    recorded_ns = _string(value["recorded_ns"])
    if not (recorded_ns.isascii() and recorded_ns.isdigit()):
        raise ValueError(f"recorded_ns {recorded_ns!r} is not an integer")
    return WatchState(patterns, int(recorded_ns), items)


def _item_from_json(value: Any) -> WatchedItem:
    _keys(value, {"kind", "path", "files"})
    return WatchedItem(Kind(value["kind"]), _path(value["path"]), tuple(map(_file_from_json, _list(value["files"]))))


def _file_from_json(value: Any) -> WatchedFile:
    if "target" in value:
        _keys(value, {"path", "target", "stat"})
        content = Content(target=_string(value["target"]))
    else:
        _keys(value, {"path", "sha256", "executable", "stat"})
        if not isinstance(value["executable"], bool):
            raise TypeError("executable is not true or false")
        content = Content(sha256=_string(value["sha256"]), executable=value["executable"])
    if content.sha256 is not None and not SHA256_HEX.fullmatch(content.sha256):
        raise ValueError(f"{content.sha256!r} is not a sha256")
    return WatchedFile(_path(value["path"]), content, Fingerprint.from_json(value["stat"]))


def _keys(value: Any, keys: set[str]) -> None:
    if not isinstance(value, dict) or set(value) != keys:
        raise ValueError(f"expected an object with exactly {sorted(keys)}")


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"{value!r} is not a list")
    return value


def _path(value: Any) -> str:
    """A path below the watched directory: relative, no `.` or `..` segment (the root bundle is `.` alone)."""
    path = _string(value)
    if path != "." and any(segment in ("", ".", "..") for segment in path.split("/")):
        raise ValueError(f"{path!r} is not a path below the watched directory")
    return path


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not a string")
    return value
