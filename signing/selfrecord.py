"""The self-check record: what a released program is, as one exact canonical-JSON document.

A record names the executable the kernel runs and, for a program written in
Python, everything else that decides which code runs: the `libpython` the
interpreter maps, the entry script, and every file of the program's
distributions, with the digests a `.pyc` of each source may have. Its
format is versioned; a record of another format is refused with the way to
make a new one, never read by guesswork. An invalid record cannot exist in
memory: `SelfRecord.from_json` refuses any field that is missing, unknown,
of the wrong type, unsorted or repeated.
"""

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from attest.statement import SHA256_HEX
from signing.digest import FileDigest
from signing.errors import SelfCheckError

RECORD_FORMAT = 3
ALGORITHM = "sha256"
BYTECODE_LEVELS = 3
"""Optimization levels a `.pyc` may be cached at (`-O`, `-OO`): 0, 1 and 2."""
RERECORD = "packseal self record --python --distribution NAME ... (or --binary FILE)"
"""How to make a record this version reads, for the message refusing one it does not."""

_RECORD_KEYS = {"format", "algorithm", "packseal_version", "executable"}
_PYTHON_KEYS = {"libraries", "distributions"}
_NAMED_FILE_KEYS = {"name", "sha256", "size"}
_DISTRIBUTION_KEYS = {"name", "version", "files"}
_FILE_KEYS = {"path", "sha256", "size"}


@dataclass(frozen=True)
class NamedFile:
    """An executable, a library or a script: a file found at check time by what runs, so named, not located."""

    name: str
    digest: FileDigest

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "sha256": self.digest.sha256, "size": self.digest.size}


@dataclass(frozen=True)
class DistributionFile:
    """One installed file of a distribution, by its path as the distribution's RECORD names it.

    `bytecode` is set for a Python source: the sha256 of the code object
    (`marshal` form, after the 16-byte `.pyc` header) compiled from the
    recorded source at optimization levels 0, 1 and 2, in that order. A
    cached `.pyc` that Python would load instead of the source must hold
    the one of its own level: `-O` code in the plain `.pyc` would run
    without the source's asserts. Empty when the source does not compile:
    then no `.pyc` of it is accepted.
    """

    path: str
    digest: FileDigest
    bytecode: tuple[str, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {"path": self.path, "sha256": self.digest.sha256, "size": self.digest.size}
        if self.bytecode is not None:
            value["bytecode"] = list(self.bytecode)
        return value


@dataclass(frozen=True)
class DistributionRecord:
    """The installed files of a Python distribution, hashed when the record was made."""

    name: str
    version: str
    files: tuple[DistributionFile, ...]

    @property
    def size(self) -> int:
        return sum(file.digest.size for file in self.files)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "files": [file.to_json() for file in self.files]}


@dataclass(frozen=True)
class PythonRecord:
    """What else decides the code a Python interpreter runs: its `libpython`, script and distributions.

    `libraries` is empty for a statically linked interpreter: then the
    check refuses a process that maps a `libpython`.
    """

    libraries: tuple[NamedFile, ...]
    script: NamedFile | None
    distributions: tuple[DistributionRecord, ...]

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "libraries": [library.to_json() for library in self.libraries],
            "distributions": [distribution.to_json() for distribution in self.distributions],
        }
        if self.script is not None:
            value["script"] = self.script.to_json()
        return value


@dataclass(frozen=True)
class SelfRecord:
    """What a released program is: its executable and, for a Python program, the rest of what runs."""

    executable: NamedFile
    packseal_version: str
    python: PythonRecord | None = None

    @property
    def files(self) -> int:
        """How many files the record covers, so a user can see it is not empty."""
        if self.python is None:
            return 1
        script = 0 if self.python.script is None else 1
        return 1 + len(self.python.libraries) + script + sum(len(d.files) for d in self.python.distributions)

    @property
    def size(self) -> int:
        """How many bytes the record covers."""
        if self.python is None:
            return self.executable.digest.size
        named = [self.executable, *self.python.libraries, *([self.python.script] if self.python.script else [])]
        return sum(file.digest.size for file in named) + sum(d.size for d in self.python.distributions)

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "format": RECORD_FORMAT,
            "algorithm": ALGORITHM,
            "packseal_version": self.packseal_version,
            "executable": self.executable.to_json(),
        }
        if self.python is not None:
            value["python"] = self.python.to_json()
        return value

    @classmethod
    def from_json(cls, value: Any, *, what: str) -> "SelfRecord":
        """Read a record, refusing another format, and any field missing, unknown or of the wrong type."""
        if not isinstance(value, dict):
            raise SelfCheckError(f"{what}: must be a JSON object")
        if value.get("format") != RECORD_FORMAT:
            raise SelfCheckError(
                f"{what}: record format {value.get('format')!r} is not format {RECORD_FORMAT}, "
                f"the one this packseal reads; record again with `{RERECORD}`"
            )
        fields = _object(value, _RECORD_KEYS, {"python"}, what=what)
        if fields["algorithm"] != ALGORITHM:
            raise SelfCheckError(f"{what}: unsupported algorithm {fields['algorithm']!r}")
        python = fields.get("python")
        return cls(
            executable=_named_file(fields["executable"], what=f"{what}: executable"),
            packseal_version=_string(fields["packseal_version"], what=f"{what}: packseal_version"),
            python=None if python is None else _python_from_json(python, what=f"{what}: python"),
        )


def _python_from_json(value: Any, *, what: str) -> PythonRecord:
    fields = _object(value, _PYTHON_KEYS, {"script"}, what=what)
    libraries = tuple(_named_file(entry, what=f"{what}: library") for entry in _list(fields["libraries"], what=what))
    _check_sorted((library.name for library in libraries), what=f"{what}: libraries")
    distributions = tuple(
        _distribution_from_json(entry, what=f"{what}: distribution")
        for entry in _list(fields["distributions"], what=f"{what}: distributions")
    )
    _check_sorted((distribution.name for distribution in distributions), what=f"{what}: distributions")
    script = fields.get("script")
    return PythonRecord(
        libraries=libraries,
        script=None if script is None else _named_file(script, what=f"{what}: script"),
        distributions=distributions,
    )


def _distribution_from_json(value: Any, *, what: str) -> DistributionRecord:
    fields = _object(value, _DISTRIBUTION_KEYS, set(), what=what)
    name = _string(fields["name"], what=f"{what} name")
    files = _list(fields["files"], what=f"{what} {name}: files")
    if not files:
        raise SelfCheckError(f"{what} {name}: files must not be empty; a record must cover something")
    entries = tuple(_distribution_file(entry, what=f"{what} {name}: file") for entry in files)
    _check_sorted((entry.path for entry in entries), what=f"{what} {name}: files")
    return DistributionRecord(
        name=name, version=_string(fields["version"], what=f"{what} {name}: version"), files=entries
    )


def _distribution_file(value: Any, *, what: str) -> DistributionFile:
    fields = _object(value, _FILE_KEYS, {"bytecode"}, what=what)
    path = _string(fields["path"], what=f"{what} path")
    if PurePosixPath(path).is_absolute() or "\\" in path:
        raise SelfCheckError(f"{what} {path!r}: must be a relative POSIX path, as in the distribution's RECORD")
    digest = _file_digest(fields["sha256"], fields["size"], what=f"{what} {path}")
    bytecode = fields.get("bytecode")
    if path.endswith(".py") != (bytecode is not None):
        raise SelfCheckError(f"{what} {path}: a Python source, and only a source, must list its bytecode digests")
    if bytecode is None:
        return DistributionFile(path, digest)
    digests = _list(bytecode, what=f"{what} {path}: bytecode")
    if not all(isinstance(entry, str) and SHA256_HEX.fullmatch(entry) for entry in digests):
        raise SelfCheckError(f"{what} {path}: bytecode digests must be 64 lowercase hex digits")
    if len(digests) not in (0, BYTECODE_LEVELS):
        raise SelfCheckError(
            f"{what} {path}: bytecode must list one digest per optimization level 0 to {BYTECODE_LEVELS - 1}, or none"
        )
    return DistributionFile(path, digest, tuple(digests))


def _named_file(value: Any, *, what: str) -> NamedFile:
    fields = _object(value, _NAMED_FILE_KEYS, set(), what=what)
    name = _string(fields["name"], what=f"{what} name")
    return NamedFile(name, _file_digest(fields["sha256"], fields["size"], what=f"{what} {name}"))


def _check_sorted(keys: Iterable[str], *, what: str) -> None:
    encoded = [key.encode() for key in keys]
    if any(first >= second for first, second in itertools.pairwise(encoded)):
        raise SelfCheckError(f"{what}: not sorted, or an entry repeats")


def _object(value: Any, required: set[str], optional: set[str], *, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SelfCheckError(f"{what}: must be a JSON object")
    missing, unknown = required - value.keys(), value.keys() - required - optional
    if missing or unknown:
        raise SelfCheckError(f"{what}: missing fields {sorted(missing)}, unknown fields {sorted(unknown)}")
    return value


def _list(value: Any, *, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise SelfCheckError(f"{what}: must be a JSON list")
    return value


def _string(value: Any, *, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise SelfCheckError(f"{what}: must be a non-empty string")
    return value


def _file_digest(sha256: Any, size: Any, *, what: str) -> FileDigest:
    if not isinstance(sha256, str) or not SHA256_HEX.fullmatch(sha256):
        raise SelfCheckError(f"{what}: sha256 must be 64 lowercase hex digits")
    if type(size) is not int or size < 0:
        raise SelfCheckError(f"{what}: size must be a non-negative integer")
    return FileDigest(sha256=sha256, size=size)
