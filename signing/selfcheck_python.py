"""What decides the code a Python process runs, measured for the self-check.

In a Python process `/proc/self/exe` is the interpreter, which proves
little on its own: on a shared-library build (pyenv, many distributions)
it is a small stub, and the program is files the interpreter reads. So a
Python program's record also covers:

- the `libpython` the process maps, found in `/proc/self/maps` and hashed
  only after the file at that path is proven to be the mapped one (same
  device and inode), so a path replaced after start is not what is hashed;
- the entry script (`__main__.__file__`);
- every file of the named distributions, with nothing added in their
  package directories, each top-level module imported from the recorded
  file (not one shadowing it earlier on `sys.path`), and no cached `.pyc`
  that is not a compile of the recorded source: Python loads a `.pyc`
  whose header matches the source's timestamp and size without reading the
  source, so a planted one would run while every source hash still holds.

Imports stay light: this runs at every daemon start.
"""

import hashlib
import json
import marshal
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from attest.errors import os_error_line
from signing.digest import FileDigest, digest_stream, file_digest
from signing.errors import BundleError, SelfCheckError
from signing.files import open_regular_file, read_regular_file
from signing.selfrecord import BYTECODE_LEVELS, DistributionFile, DistributionRecord, NamedFile

if TYPE_CHECKING:
    from importlib.metadata import Distribution

MAPS = Path("/proc/self/maps")
MAP_FILES = Path("/proc/self/map_files")
_LIBPYTHON = re.compile(r"libpython\d+\.\d+[a-z]*\.so(?:\.\d+)*")
_OPTIMIZATIONS = range(BYTECODE_LEVELS)
_MAX_SOURCE_BYTES = 64 * 1024 * 1024
_PYC_HEADER_BYTES = 16
_PRINT_MAPS = "import sys; sys.stdout.write(open('/proc/self/maps').read())"


# --- libpython ---------------------------------------------------------------


@dataclass(frozen=True)
class MappedFile:
    """A file mapped into this process, as `/proc/self/maps` identifies it."""

    path: str
    device: tuple[int, int]
    inode: int
    addresses: str

    def digest(self) -> FileDigest:
        """Hash the mapped file itself: the file at its path if it is the same inode, else the mapping.

        `/proc/self/map_files/` opens the mapped inode directly but needs
        CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN; without it, a path that no
        longer names the mapped file is a refusal, never a hash of the
        replacement.
        """
        for candidate in (Path(self.path), MAP_FILES / self.addresses):
            try:
                with open_regular_file(candidate, follow_symlinks=True) as stream:
                    found = os.fstat(stream.fileno())
                    if (os.major(found.st_dev), os.minor(found.st_dev), found.st_ino) == (*self.device, self.inode):
                        return digest_stream(stream)
            except (OSError, BundleError):
                continue
        raise SelfCheckError(
            f"{self.path}: is not the file this process maps (replaced or removed since it started); "
            "restart the process to check what it runs"
        )


def mapped_libpython(maps: str) -> list[MappedFile]:
    """The `libpython` files a process maps, from its `/proc/PID/maps` text; empty for a static build."""
    found: dict[tuple[int, int, int], MappedFile] = {}
    for line in maps.splitlines():
        fields = line.split(None, 5)
        if len(fields) < 6 or not _LIBPYTHON.fullmatch(fields[5].rsplit("/", 1)[-1].removesuffix(" (deleted)")):
            continue
        if fields[5].endswith(" (deleted)"):
            raise SelfCheckError(f"{fields[5]}: the libpython this process maps was removed since it started")
        major, minor = (int(part, 16) for part in fields[3].split(":"))
        mapped = MappedFile(fields[5], (major, minor), int(fields[4]), fields[0])
        found.setdefault((major, minor, mapped.inode), mapped)
    return sorted(found.values(), key=lambda mapped: mapped.path)


def running_libraries() -> tuple[NamedFile, ...]:
    """This process's `libpython`, hashed as mapped."""
    try:
        maps = MAPS.read_text(errors="surrogateescape")
    except OSError as err:
        raise SelfCheckError(
            f"{os_error_line(MAPS, err)}; a Python program is checked where /proc/self/maps exists"
        ) from None
    return _named(((Path(mapped.path).name, mapped.digest()) for mapped in mapped_libpython(maps)), what=str(MAPS))


def interpreter_libraries(interpreter: Path) -> tuple[NamedFile, ...]:
    """The `libpython` another interpreter maps, found by starting it once (isolated, no site)."""
    try:
        run = subprocess.run(
            [str(interpreter), "-I", "-S", "-c", _PRINT_MAPS],
            capture_output=True,
            text=True,
            errors="surrogateescape",
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise BundleError(f"{interpreter}: cannot start it to find the libpython it maps: {err}") from None
    if run.returncode != 0:
        raise BundleError(f"{interpreter}: is not a Python interpreter that runs here (exit {run.returncode})")
    libraries = mapped_libpython(run.stdout)
    digests = ((Path(m.path).name, file_digest(Path(m.path), follow_symlinks=True)) for m in libraries)
    return _named(digests, what=str(interpreter))


def _named(files: Iterator[tuple[str, FileDigest]], *, what: str) -> tuple[NamedFile, ...]:
    named = sorted((NamedFile(name, digest) for name, digest in files), key=lambda file: file.name.encode())
    if len({file.name for file in named}) != len(named):
        raise SelfCheckError(f"{what}: two different libpython files of one name are mapped")
    return tuple(named)


# --- the entry script -----------------------------------------------------------


def running_script() -> Path | None:
    """The file `__main__` was run from, absolute (Python 3.9+ makes it so); None for `-c` or a REPL."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return Path(path) if isinstance(path, str) else None


# --- distributions --------------------------------------------------------------


def record_distribution(name: str) -> DistributionRecord:
    """Hash every installed file of `name` its RECORD lists, and the bytecode each source compiles to.

    RECORD's own hashes are not trusted: they say what was installed, not
    what is on disk now. Cached bytecode (`__pycache__/*.pyc`) is not a
    file of the record: the interpreter rewrites it at run time, so it is
    checked against the code compiled from each recorded source instead.
    An editable install, or one whose RECORD names no module Python can
    import, is refused: its record would cover none of the code that runs.
    """
    distribution = installed(name)
    _refuse_editable(distribution, name)
    if distribution.files is None:
        raise BundleError(f"distribution {name!r} lists no files (no RECORD); cannot record it")
    paths = sorted({path.as_posix() for path in distribution.files if not _is_cached_bytecode(path)}, key=str.encode)
    record = DistributionRecord(
        name=distribution.metadata["Name"],
        version=distribution.version,
        files=tuple(_record_file(located(distribution, path), path) for path in paths),
    )
    if not _modules(record):
        raise BundleError(
            f"distribution {name!r}: its RECORD names no module Python can import, so a record would cover "
            "none of its code; is it installed as it will run?"
        )
    _check_imports(record, distribution)
    return record


def check_distribution(expected: DistributionRecord) -> None:
    """The distribution this interpreter imports is the recorded one, down to its cached bytecode.

    Every recorded file is unchanged and present; no file was added in its
    package directories; no cached `.pyc` of a recorded source holds other
    code; each top-level module imports from the recorded file. Its version
    needs no check of its own: METADATA is one of the files.
    """
    distribution = installed(expected.name)
    cached: set[str] = set()
    for file in expected.files:
        path = located(distribution, file.path)
        actual = file_digest(path, follow_symlinks=True)
        if actual != file.digest:
            raise SelfCheckError(
                f"distribution {expected.name}: {file.path} is sha256:{actual.sha256} ({actual.size} bytes), "
                f"recorded sha256:{file.digest.sha256} ({file.digest.size} bytes)"
            )
        if file.bytecode is not None:
            cached.update(_check_bytecode(expected.name, file.path, file.bytecode, path))
    known = {os.path.normpath(located(distribution, file.path)) for file in expected.files} | cached
    for directory in _package_directories(expected):
        _check_nothing_added(expected.name, located(distribution, directory), known)
    _check_imports(expected, distribution)


def is_distribution_file(path: Path, record: DistributionRecord) -> bool:
    """Whether `path` is one of the recorded files of the installed distribution."""
    distribution = installed(record.name)
    real = os.path.realpath(path)
    return any(os.path.realpath(located(distribution, file.path)) == real for file in record.files)


def installed(name: str) -> "Distribution":
    from importlib import metadata

    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise BundleError(f"distribution {name!r} is not installed") from None


def located(distribution: "Distribution", path: str) -> Path:
    """Where an installed file of a distribution is on disk, spelled as the import system spells it."""
    return Path(str(distribution.locate_file(path)))


def _refuse_editable(distribution: "Distribution", name: str) -> None:
    """Refuse an editable install (PEP 610 `direct_url.json`): its RECORD lists a hook, not the code."""
    try:
        direct_url = json.loads(distribution.read_text("direct_url.json") or "{}")
    except ValueError:
        raise BundleError(f"distribution {name!r}: direct_url.json is not valid JSON") from None
    dir_info = direct_url.get("dir_info") if isinstance(direct_url, dict) else None
    if isinstance(dir_info, dict) and dir_info.get("editable") is True:
        raise BundleError(
            f"distribution {name!r} is an editable install of {direct_url.get('url', 'a source tree')}: its "
            "RECORD covers the import hook, not the code, which can change at any time; install it without "
            "-e (pip install --no-editable, or a wheel) and record again"
        )


def _record_file(path: Path, relative: str) -> DistributionFile:
    if not relative.endswith(".py"):
        return DistributionFile(relative, file_digest(path, follow_symlinks=True))
    source = read_regular_file(path, _MAX_SOURCE_BYTES, follow_symlinks=True)
    digest = FileDigest(sha256=hashlib.sha256(source).hexdigest(), size=len(source))
    return DistributionFile(relative, digest, _bytecode_digests(source, path))


def _bytecode_digests(source: bytes, path: Path) -> tuple[str, ...]:
    """The sha256 of the code object Python's import would cache for `source` at `path`, per level.

    Compiled as `SourceFileLoader.source_to_code` compiles (the file name is
    part of the code object), at each optimization level, in level order.
    """
    digests = []
    for optimization in _OPTIMIZATIONS:
        try:
            code = compile(source, str(path), "exec", dont_inherit=True, optimize=optimization)
        except (SyntaxError, ValueError):
            return ()
        digests.append(hashlib.sha256(marshal.dumps(code)).hexdigest())
    return tuple(digests)


def _check_bytecode(distribution: str, relative: str, bytecode: tuple[str, ...], source: Path) -> Iterator[str]:
    """Refuse a cached `.pyc` of `source` holding other code; yield the cache paths found.

    Each optimization level's cache file is checked, in `__pycache__` or
    under `sys.pycache_prefix`, as `importlib.util.cache_from_source` finds
    it, against the code compiled at that level (another level's code drops
    asserts or docstrings); its header (timestamp or hash) is ignored, since
    what matters is the code Python would run.
    """
    from importlib.util import cache_from_source

    for optimization in _OPTIMIZATIONS:
        cache = cache_from_source(str(source), optimization="" if optimization == 0 else optimization)
        if not os.path.lexists(cache):
            continue
        data = read_regular_file(Path(cache), _MAX_SOURCE_BYTES * 2)
        if not bytecode or hashlib.sha256(data[_PYC_HEADER_BYTES:]).hexdigest() != bytecode[optimization]:
            raise SelfCheckError(
                f"distribution {distribution}: {cache} is not bytecode compiled from the recorded {relative}; "
                "Python would run it instead of the source (remove it; Python recompiles the source)"
            )
        yield os.path.normpath(cache)


def _package_directories(record: DistributionRecord) -> list[str]:
    """The directories the distribution owns: its regular packages and its dist-info, outermost only.

    A namespace package's directory (no `__init__.py`) is shared with other
    distributions, so only the regular packages inside it are owned.
    """
    owned = {
        str(PurePosixPath(file.path).parent)
        for file in record.files
        if PurePosixPath(file.path).name == "__init__.py" and not file.path.startswith("../")
    }
    owned |= {file.path.split("/", 1)[0] for file in record.files if file.path.split("/", 1)[0].endswith(".dist-info")}
    return sorted(d for d in owned if not any(d.startswith(f"{other}/") for other in owned))


def _check_nothing_added(distribution: str, root: Path, known: set[str]) -> None:
    """Walk `root` iteratively: every file must be recorded (or checked bytecode); no links or special files."""
    pending = [root]
    while pending:
        directory = pending.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError as err:
            raise SelfCheckError(f"distribution {distribution}: {os_error_line(directory, err)}") from None
        for entry in entries:
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError as err:
                raise SelfCheckError(f"distribution {distribution}: {os_error_line(entry.path, err)}") from None
            if stat.S_ISDIR(mode):
                pending.append(Path(entry.path))
            elif not stat.S_ISREG(mode):
                raise SelfCheckError(f"distribution {distribution}: {entry.path}: not a regular file or directory")
            elif os.path.normpath(entry.path) not in known:
                raise SelfCheckError(
                    f"distribution {distribution}: {entry.path} is not in the record (added after recording)"
                )


def _modules(record: DistributionRecord) -> dict[str, str]:
    """Top-level module name → the recorded file it must import from: `X.py`, `X.<ext suffix>`, `X/__init__.py`."""
    from importlib.machinery import all_suffixes

    suffixes = sorted(all_suffixes(), key=len, reverse=True)
    modules = {}
    for file in record.files:
        parts = PurePosixPath(file.path).parts
        if len(parts) == 2 and parts[1] == "__init__.py" and parts[0].isidentifier():
            modules[parts[0]] = file.path
        elif len(parts) == 1:
            suffix = next((suffix for suffix in suffixes if file.path.endswith(suffix)), None)
            if suffix is not None and file.path[: -len(suffix)].isidentifier():
                modules.setdefault(file.path[: -len(suffix)], file.path)
    return modules


def _check_imports(record: DistributionRecord, distribution: "Distribution") -> None:
    """Each top-level module must import from its recorded file, not one earlier on `sys.path`."""
    from importlib.util import find_spec

    for module, path in sorted(_modules(record).items()):
        expected = located(distribution, path)
        try:
            spec = find_spec(module)
        except (ImportError, ValueError):
            spec = None
        origin = None if spec is None else spec.origin
        if origin is None or os.path.realpath(origin) != os.path.realpath(expected):
            raise SelfCheckError(
                f"distribution {record.name}: `import {module}` loads {origin}, not the recorded {expected}"
            )


def _is_cached_bytecode(path: PurePosixPath) -> bool:
    return "__pycache__" in path.parts and path.suffix == ".pyc"
