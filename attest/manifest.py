"""The bundle manifest: every file of a bundle with its digest, size and mode.

Pure data and the rules every manifest obeys, whoever made it. The walker in
`signing.bundle` builds one from disk; `manifest_from_statement` reads one
from a signed Statement. Both construct a `Manifest`, so a manifest that
breaks a rule (an unsafe path, a collision, an unsorted list) cannot exist
in memory, whichever side it came from.
"""

import hashlib
import itertools
import posixpath
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from operator import attrgetter
from typing import Any

from attest.canonical import parse_canonical_document, plain_canonical_list_sha256
from attest.errors import ManifestError, StatementError
from attest.statement import SHA256_HEX, Statement, Subject, statement_from_canonical

BUNDLE_MANIFEST_PREDICATE_TYPE = "https://packseal.dev/bundle-manifest/v1"
SIGNATURE_DIR = ".packseal"
"""Where a directory bundle keeps its signatures; never part of its manifest."""
VERSION_FIELD = "version"
"""The optional field of the manifest predicate, beside `files`, that states the bundle's version."""
_FILES_MEMBER = ("predicate", "files")
"""The keys that lead to a manifest Statement's file list."""
MAX_VERSION_LENGTH = 128
_VERSION = re.compile(rf"[\x21-\x7e]{{1,{MAX_VERSION_LENGTH}}}")

_MAX_FILE_SIZE = 2**53 - 1
"""Sizes travel through protobuf's double-precision Struct and RFC 8785 numbers: exact up to here."""
_UNSAFE = r"\x00-\x1f\x7f\\"
_WINDOWS_FORBIDDEN = r'<>:"|?*'
_UNSAFE_CHARACTERS = re.compile(f"[{_UNSAFE}]")
_WINDOWS_FORBIDDEN_CHARACTERS = re.compile(f"[{_WINDOWS_FORBIDDEN}]")
_WINDOWS_DEVICE_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{port}{number}" for port in ("COM", "LPT") for number in "0123456789\u00b9\u00b2\u00b3"}
)
"""Names Windows opens as devices, whatever follows the first dot (`nul.tar.gz` is NUL).

Microsoft's "Naming Files, Paths, and Namespaces" lists them; `CONIN$` and
`CONOUT$` are added as Python's `ntpath.isreserved` adds them.
"""
_ASCII_DEVICE_NAME = r"(?:con|prn|aux|nul|conin\$|conout\$|com[0-9]|lpt[0-9]) *(?:[./]|$)"
"""A name of `_WINDOWS_DEVICE_NAMES` spelt in ASCII, in any letter case, up to the end of its path component."""
_MAYBE_NOT_PORTABLE_ASCII = re.compile(
    rf"[{_WINDOWS_FORBIDDEN}]|[. ](?:/|$)|(?:^|/){_ASCII_DEVICE_NAME}", re.IGNORECASE | re.ASCII
)
"""An ASCII path that does not match holds no name `_check_portable_names` refuses; one that matches is checked."""
_PORTABLE_ASCII_NAME = rf"(?!{_ASCII_DEVICE_NAME})[^{_UNSAFE}/{_WINDOWS_FORBIDDEN}]*[^{_UNSAFE}/{_WINDOWS_FORBIDDEN}. ]"
_PORTABLE_ASCII_PATH = re.compile(
    rf"(?!{re.escape(SIGNATURE_DIR)}(?:/|$)){_PORTABLE_ASCII_NAME}(?:/{_PORTABLE_ASCII_NAME})*",
    re.IGNORECASE | re.ASCII,
)
"""Exactly the ASCII paths `check_path` accepts, in one expression.

Names of one character or more, none of them a control character, a
backslash or a character Windows forbids, not ending with a dot or a space
(so neither `.` nor `..`), not a device name; between single slashes (none
leading or trailing); the first name not `.packseal`.
"""


@dataclass(frozen=True, slots=True)
class FileEntry:
    """A regular file: its content digest, size and whether it is executable."""

    path: str
    sha256: str
    size: int
    executable: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "type": "file",
            "sha256": self.sha256,
            "size": self.size,
            "executable": self.executable,
        }


@dataclass(frozen=True, slots=True)
class SymlinkEntry:
    """A symbolic link, recorded by its target and never followed."""

    path: str
    target: str

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "type": "symlink", "target": self.target}


Entry = FileEntry | SymlinkEntry


@dataclass(frozen=True)
class Manifest:
    """Entries sorted by the UTF-8 bytes of their paths; every rule checked on construction."""

    entries: tuple[Entry, ...]

    def __post_init__(self) -> None:
        for entry in self.entries:
            _check_entry(entry)
        _check_order(self.entries)
        _check_collisions(entry.path for entry in self.entries)

    @classmethod
    def from_entries(cls, entries: Iterable[Entry]) -> "Manifest":
        """Build a manifest from entries in any order."""
        return cls(tuple(sorted(entries, key=attrgetter("path"))))  # code point order: UTF-8 byte order

    @cached_property
    def digest(self) -> str:
        """The tree digest: sha256 of the canonical JSON of the entry list, in hex.

        Every entry was checked on construction (strings, a size within
        2**53, a boolean), so the list is a plain value: it skips the type
        walk `canonical_json` would make.
        """
        return plain_canonical_list_sha256(entry.to_json() for entry in self.entries)

    def to_json(self) -> dict[str, Any]:
        return {"files": [entry.to_json() for entry in self.entries]}

    @classmethod
    def from_json(cls, value: Any) -> "Manifest":
        """Read the predicate form strictly: unknown or missing fields are refused."""
        manifest = _manifest_from_json(value)
        # Each item has exactly its entry's fields and types, so it is that entry's JSON form: the
        # digest is hashed from the list as read rather than from a rebuilt one (cached_property's cache).
        manifest.__dict__["digest"] = plain_canonical_list_sha256(value["files"])
        return manifest


def _manifest_from_json(value: Any) -> Manifest:
    """The manifest of a predicate's form, without its digest."""
    if not isinstance(value, dict) or set(value) != {"files"} or not isinstance(value["files"], list):
        raise ManifestError("manifest predicate must be an object with exactly a 'files' list")
    return Manifest(tuple(map(_entry_from_json, value["files"], itertools.count())))


def manifest_statement(name: str, manifest: Manifest, *, version: str | None = None) -> Statement:
    """The Statement that a bundle is signed as: subject = (bundle name, tree digest), and its version if given.

    The version sits in the predicate beside `files`: outside the tree
    digest, which stays the digest of the file list, but inside the signed
    Statement bytes, so no one can change it without breaking the signature.
    """
    predicate = manifest.to_json()
    if version is not None:
        predicate[VERSION_FIELD] = check_version(version)
    return Statement(
        subjects=(Subject(name=name, sha256=manifest.digest),),
        predicate_type=BUNDLE_MANIFEST_PREDICATE_TYPE,
        predicate=predicate,
    )


def manifest_from_statement(data: bytes, *, what: str) -> tuple[Statement, Manifest]:
    """Parse a signed manifest Statement and check its subject is the manifest's tree digest (and any version)."""
    document = parse_canonical_document(data, what=what, members=[_FILES_MEMBER])
    statement = statement_from_canonical(document, what=what, predicate_type=BUNDLE_MANIFEST_PREDICATE_TYPE)
    try:
        manifest_version(statement)
        files = {key: value for key, value in statement.predicate.items() if key != VERSION_FIELD}
        manifest = _manifest_from_json(files)
    except ManifestError as err:
        raise ManifestError(f"{what}: {err}") from None
    # The file list's canonical form is a slice of the signed bytes: hashed there, not serialised
    # again as `from_json` would (25 ms for 20,000 files).
    manifest.__dict__["digest"] = hashlib.sha256(document.member_bytes(*_FILES_MEMBER)).hexdigest()
    if len(statement.subjects) != 1 or statement.subjects[0].sha256 != manifest.digest:
        raise StatementError(f"{what}: subject digest is not the tree digest of its file list")
    return statement, manifest


def manifest_version(statement: Statement) -> str | None:
    """The version a bundle manifest Statement states; None when it states none (an unversioned bundle)."""
    if VERSION_FIELD not in statement.predicate:
        return None
    return check_version(statement.predicate[VERSION_FIELD])


def check_version(version: object) -> str:
    """Refuse a version that is not 1 to 128 printable ASCII characters without spaces, and return it.

    Only the form is checked here: which versions order how is the
    installer's publisher's scheme (PEP 440 or SemVer), not the manifest's.
    """
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        shown = ascii(version[:64]) if isinstance(version, str) else type(version).__name__
        raise ManifestError(
            f"version {shown}: a version is 1 to {MAX_VERSION_LENGTH} printable ASCII characters without spaces"
        )
    return version


def check_path(path: str) -> None:
    """Refuse a path an installer could not write safely and identically on every OS."""
    if path.isascii() and _PORTABLE_ASCII_PATH.fullmatch(path):
        return  # the common case, in one expression: half the time of the rules below (20,000 paths: 27 ms to 14)
    _check_path_rule_by_rule(path)


def _check_path_rule_by_rule(path: str) -> None:
    """`check_path`, one rule at a time, so that a refusal names the rule broken."""
    if not path:
        raise ManifestError("empty path")
    if _UNSAFE_CHARACTERS.search(path):
        raise ManifestError(f"{path!r}: control character or backslash in path")
    if path.startswith("/"):
        raise ManifestError(f"{path!r}: absolute path")
    parts = path.split("/")
    if "" in parts or "." in parts or ".." in parts:
        raise ManifestError(f"{path!r}: empty, '.' or '..' path component")
    if parts[0].casefold() == SIGNATURE_DIR:
        raise ManifestError(f"{path!r}: {SIGNATURE_DIR}/ cannot be part of a manifest, in any letter case")
    if not path.isascii():
        _check_unicode(path)
    _check_portable_names(repr(path), path, parts)


def _check_unicode(path: str) -> None:
    try:
        path.encode()
    except UnicodeEncodeError:
        raise ManifestError(f"{path!r}: path is not valid UTF-8 (a lone surrogate)") from None
    if not unicodedata.is_normalized("NFC", path):
        raise ManifestError(f"{path!r}: path is not in Unicode NFC form")


def _check_portable_names(where: str, path: str, names: list[str]) -> None:
    """Refuse a path component Windows would refuse, alter or open as a device.

    A bundle installs identically everywhere or is refused everywhere: on
    Windows `run.bat.` and `run.bat ` are written as `run.bat`, `a:b` opens an
    alternate data stream of `a`, and `con.txt` opens the console.
    """
    if path.isascii() and not _MAYBE_NOT_PORTABLE_ASCII.search(path):
        return  # the common case, in one regular expression; the loop below names the problem
    forbidden = _WINDOWS_FORBIDDEN_CHARACTERS.search(path)
    if forbidden:
        raise ManifestError(f"{where}: {forbidden.group()!r} is a character Windows forbids in names")
    for name in names:
        if name.endswith((".", " ")):
            raise ManifestError(f"{where}: {name!r} ends with a dot or a space, which Windows drops")
        if name.partition(".")[0].rstrip(" ").upper() in _WINDOWS_DEVICE_NAMES:
            raise ManifestError(f"{where}: {name!r} is a Windows device name")


def check_link_target(path: str, target: str) -> None:
    """Refuse a link target that leaves the bundle, points into its signatures, or names what Windows cannot hold."""
    if not target or _UNSAFE_CHARACTERS.search(target) or target.startswith("/"):
        raise ManifestError(f"{path!r}: symlink target {target!r} is empty, absolute or unsafe")
    names = [name for name in target.split("/") if name not in ("", ".", "..")]
    _check_portable_names(f"{path!r}: symlink target {target!r}", target, names)
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    first = resolved.split("/")[0]
    if first == "..":
        raise ManifestError(f"{path!r}: symlink target {target!r} leaves the bundle")
    if first.casefold() == SIGNATURE_DIR:
        raise ManifestError(f"{path!r}: symlink target {target!r} points into {SIGNATURE_DIR}/")


def _check_entry(entry: Entry) -> None:
    check_path(entry.path)
    if isinstance(entry, SymlinkEntry):
        check_link_target(entry.path, entry.target)
        return
    if not SHA256_HEX.fullmatch(entry.sha256):
        raise ManifestError(f"{entry.path!r}: sha256 must be 64 lowercase hex digits")
    if type(entry.size) is not int or not 0 <= entry.size <= _MAX_FILE_SIZE:
        raise ManifestError(f"{entry.path!r}: size {entry.size} out of range")
    if type(entry.executable) is not bool:
        raise ManifestError(f"{entry.path!r}: executable must be true or false")


def _check_order(entries: tuple[Entry, ...]) -> None:
    for before, after in itertools.pairwise(entries):
        if before.path == after.path:
            raise ManifestError(f"{after.path!r}: duplicate path")
        if before.path > after.path:  # code point order: the order of the UTF-8 bytes
            raise ManifestError(f"{after.path!r}: entries are not sorted by path")


def _check_collisions(paths: Iterable[str]) -> None:
    """Refuse names that could not all be written, or that a file system would merge.

    Parent directories count: `Docs/a` and `docs/b` would land in one
    directory on macOS or Windows; an entry `lib` (a file or a link) beside
    `lib/x` or `LIB/x` would not fit at all, or would lead through a link.
    """
    seen: dict[str, str] = {}  # folded name -> name; 20,000 entries: kept small, without a tuple each
    directories: set[str] = set()
    folded_directories: set[str] = set()

    def claim(name: str, is_entry: bool) -> None:
        folded = name.casefold() if name.isascii() else unicodedata.normalize("NFC", name.casefold())
        known = folded in seen
        other = seen.setdefault(name if folded == name else folded, name)  # no second copy of a folded name
        if other != name:
            raise ManifestError(f"{name!r} and {other!r} collide after case-folding")
        if known and (folded in folded_directories) == is_entry:
            raise ManifestError(f"{name!r} is both an entry and the directory of another entry")
        if not is_entry:
            folded_directories.add(folded)

    for path in paths:
        parent = path.rpartition("/")[0]
        if parent and parent not in directories:  # its directories were not claimed yet (once for each)
            parts = parent.split("/")
            for depth in range(1, len(parts) + 1):
                directory = "/".join(parts[:depth])
                if directory not in directories:
                    claim(directory, False)
                    directories.add(directory)
        claim(path, True)


_FILE_KEYS = {"path", "type", "sha256", "size", "executable"}
_SYMLINK_KEYS = {"path", "type", "target"}


def _entry_from_json(item: Any, index: int) -> Entry:
    """The entry `item` is the JSON form of.

    Its place is spelt out only in an error, and the entry is built from
    positional arguments: 20,000 f-strings and keyword calls cost 7 ms.
    """
    if not isinstance(item, dict):
        raise ManifestError(f"files[{index}]: entry must be an object")
    kind = item.get("type")
    if kind == "file" and item.keys() == _FILE_KEYS:
        path, sha256, size, executable = item["path"], item["sha256"], item["size"], item["executable"]
        if isinstance(path, str) and isinstance(sha256, str) and type(size) is int and isinstance(executable, bool):
            return FileEntry(path, sha256, size, executable)
    elif (
        kind == "symlink"
        and item.keys() == _SYMLINK_KEYS
        and isinstance(item["path"], str)
        and isinstance(item["target"], str)
    ):
        return SymlinkEntry(item["path"], item["target"])
    raise ManifestError(f"files[{index}]: not a valid file or symlink entry")


def differences(signed: Manifest, actual: Manifest | Sequence[Entry]) -> list[str]:
    """Every way `actual` departs from `signed`, one line per path, sorted by path."""
    return [f"{problem}: {path}" for problem, path in path_differences(signed, actual)]


def path_differences(signed: Manifest, actual: Manifest | Sequence[Entry]) -> list[tuple[str, str]]:
    """Every way `actual` departs from `signed`, as (problem, path), sorted by path.

    `actual` is a manifest or entries sorted by path (unchecked: a walk's,
    which differ from `signed` if they break a rule it keeps). The problem is
    `missing`, `extra`, `type changed`, `link target changed`, `changed`
    (content) or `executable bit changed`.
    """
    expected, found = signed.entries, actual.entries if isinstance(actual, Manifest) else actual
    if tuple(found) == expected:
        return []  # what a verify expects: entry by entry at C speed, without the walk below (20,000: 13 ms to 6)
    problems = []
    i = j = 0
    while i < len(expected) or j < len(found):
        if j == len(found) or (i < len(expected) and expected[i].path < found[j].path):
            problems.append(("missing", expected[i].path))
            i += 1
        elif i == len(expected) or found[j].path < expected[i].path:
            problems.append(("extra", found[j].path))
            j += 1
        else:
            problem = _difference(expected[i], found[j])
            if problem:
                problems.append((problem, found[j].path))
            i, j = i + 1, j + 1
    return problems


def _difference(expected: Entry, found: Entry) -> str | None:
    if type(expected) is not type(found):
        return "type changed"
    if isinstance(expected, SymlinkEntry):
        return None if expected == found else "link target changed"
    assert isinstance(found, FileEntry)
    if (expected.sha256, expected.size) != (found.sha256, found.size):
        return "changed"
    if expected.executable != found.executable:
        return "executable bit changed"
    return None
