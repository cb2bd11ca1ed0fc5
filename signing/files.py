"""Write results so that a failure leaves nothing behind.

A signature beside a manifest it does not cover, or half a key pair, is
worse than nothing: every writer here either completes or removes what it
had started.
"""

import contextlib
import errno
import os
import stat
from collections.abc import Iterable, Mapping
from io import BufferedReader
from pathlib import Path

from attest.errors import os_error_line
from signing.errors import BundleError, OutputError

PathLike = str | os.PathLike[str]
"""A path as the public API takes it; each public function turns it into a `Path` first."""


def create_exclusively(files: Mapping[Path, tuple[bytes, int]]) -> None:
    """Create each path with its bytes and mode; refuse if any path exists already."""
    for path in files:
        if os.path.lexists(path):
            raise OutputError(f"{path}: already exists; refusing to overwrite it")
    created: list[Path] = []
    try:
        for path, (data, mode) in files.items():
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
            created.append(path)
            with os.fdopen(descriptor, "wb") as stream:
                stream.write(data)
    except OSError as err:
        _remove(created)
        raise OutputError(os_error_line(err.filename or path, err, "write")) from None


def check_replaceable(paths: Iterable[Path]) -> None:
    """Refuse, before anything is signed or written, a destination `replace_together` cannot replace.

    A directory in the way would make the rename or removal fail only after
    the signature was made (for Sigstore, after it was logged in public), so
    the caller checks every path it may write or remove first.
    """
    for path in paths:
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            continue
        except OSError as err:
            raise OutputError(os_error_line(path, err, "write")) from None
        if stat.S_ISDIR(mode):
            raise OutputError(f"{path}: a directory is where packseal writes a file; remove it, then try again")


def replace_together(files: Mapping[Path, bytes], *, remove: Iterable[Path] = ()) -> None:
    """Replace every file with its new bytes and remove each of `remove`, or leave all of them as they were.

    Every new file is written in full beside its destination first; then each
    is renamed into place (each rename atomic), keeping a hard link to the
    file it replaces, and each file to remove is unlinked, keeping a link
    likewise. If a step fails, the ones already done are rolled back from
    those links, and directories created for the files are removed.
    """
    made_directories = _make_parents({path.parent for path in files})
    staged: dict[Path, Path] = {}
    replaced: list[tuple[Path, Path | None]] = []
    destination, action = next(iter(files)), "write"
    try:
        for destination, data in files.items():
            staged[destination] = _stage(destination, data)
        for destination, temporary in staged.items():
            previous = _keep_previous(destination)
            replaced.append((destination, previous))
            os.replace(temporary, destination)
        action = "remove"
        for destination in (path for path in remove if path not in files):
            previous = _keep_previous(destination)
            if previous is not None:
                replaced.append((destination, previous))
                os.unlink(destination)
    except BaseException as err:  # Ctrl-C included: an interrupted sign must not leave half its files
        _roll_back(replaced)
        _remove(staged.values())
        for directory in reversed(made_directories):
            _remove_directory(directory)
        if isinstance(err, OSError):
            raise OutputError(os_error_line(destination, err, action)) from None
        raise
    _remove(previous for _, previous in replaced if previous is not None)


def _keep_previous(destination: Path) -> Path | None:
    """A hard link to the file at `destination`, to restore it; None if there is none."""
    if not os.path.lexists(destination):
        return None
    import tempfile  # here, not at start-up: verifying writes nothing, and tempfile is slow to import

    keep = Path(tempfile.mktemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".previous"))
    os.link(destination, keep, follow_symlinks=False)
    return keep


def _roll_back(replaced: list[tuple[Path, Path | None]]) -> None:
    for destination, previous in reversed(replaced):
        try:
            if previous is None:
                os.unlink(destination)
            else:
                os.replace(previous, destination)
        except OSError:
            pass


def _make_parents(directories: set[Path]) -> list[Path]:
    made: list[Path] = []
    for directory in sorted(directories):
        missing = [d for d in (directory, *directory.parents) if not d.exists()][::-1]
        for parent in missing:
            try:
                parent.mkdir()
            except OSError as err:
                for done in reversed(made):
                    _remove_directory(done)
                raise OutputError(os_error_line(parent, err, "create directory")) from None
            made.append(parent)
    return made


def _stage(path: Path, data: bytes) -> Path:
    import tempfile  # as in _keep_previous

    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(name, 0o644)
    except OSError:
        _remove([Path(name)])
        raise
    return Path(name)


def _remove(paths: Iterable[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _remove_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        directory.rmdir()


def open_regular_file(path: PathLike, *, follow_symlinks: bool = False) -> BufferedReader:
    """Open for reading and refuse anything but a regular file; by default, refuse a link too.

    Files inside a bundle are never followed; files the user names (keys,
    trust roots) may be links.
    """
    descriptor, _ = open_regular_descriptor(path, follow_symlinks=follow_symlinks)
    return os.fdopen(descriptor, "rb")


def open_regular_descriptor(
    path: PathLike, *, follow_symlinks: bool = False, dir_fd: int | None = None, shown: PathLike | None = None
) -> tuple[int, os.stat_result]:
    """`open_regular_file` as a bare descriptor and its `fstat`, for a caller that hashes many files.

    `O_NONBLOCK` keeps a FIFO from blocking the open; `fstat` then refuses it.
    With `dir_fd`, `path` is a name in that open directory (as `os.open`
    takes it), and messages name `shown`. The caller closes the descriptor.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW)
    shown = path if shown is None else shown
    try:
        descriptor = os.open(path, flags, dir_fd=dir_fd)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise BundleError(f"{shown}: symlink, not a regular file") from None
        raise
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):
        os.close(descriptor)
        raise BundleError(f"{shown}: {file_kind(status.st_mode)}, not a regular file")
    return descriptor, status


def file_kind(mode: int) -> str:
    """What a file of `mode` is, in a word for a message: "FIFO", "symlink", "directory"..."""
    kinds = {
        stat.S_ISFIFO: "FIFO",
        stat.S_ISSOCK: "socket",
        stat.S_ISCHR: "character device",
        stat.S_ISBLK: "block device",
        stat.S_ISDIR: "directory",
        stat.S_ISLNK: "symlink",
    }
    return next((name for test, name in kinds.items() if test(mode)), "special file")


def read_regular_file(path: PathLike, limit: int, *, follow_symlinks: bool = False) -> bytes:
    """Read a small regular file whole, refusing special files, more than `limit` bytes, and links.

    The size is checked before reading, and again on what was read: a file
    can grow after `fstat`, and procfs reports 0 for files it serves.
    """
    try:
        with open_regular_file(path, follow_symlinks=follow_symlinks) as stream:
            size = os.fstat(stream.fileno()).st_size
            if size > limit:
                raise BundleError(f"{path}: {size} bytes is over the {limit} byte limit")
            data = stream.read(limit + 1)
    except FileNotFoundError:
        raise BundleError(f"{path}: missing") from None
    except OSError as err:
        raise BundleError(os_error_line(path, err)) from None
    if len(data) > limit:
        raise BundleError(f"{path}: over the {limit} byte limit")
    return data


def fsync_directory(directory: PathLike) -> None:
    """Make the entries created, renamed or removed in `directory` durable: fsync of a file alone does not."""
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
