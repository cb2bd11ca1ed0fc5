"""Private staging beside an install directory: where a bundle is copied, then verified, then landed from.

What is verified must be what lands, so the bundle is copied first into a
directory only this user can enter (mode 0700), on the install directory's
own filesystem (inside `DEST/.packseal-installs/`, so landing is a rename),
and verification reads only that copy. Whoever can still write the source
changes nothing that is verified or installed.

The copy never follows a link: regular files are opened with `O_NOFOLLOW`
and typed on the open descriptor; links are recreated as links, with their
target (the manifest records links, and verification checks their targets
and where they resolve); devices, FIFOs and sockets are refused. Only a
regular file's content and executable bit are copied, as the manifest
records nothing else.

What the copy writes is bounded by a `CopyBudget` (install's `--max-bytes`
and `--max-files`), counted as it writes: a source is not believed about
its size, as an archive is not.
"""

import contextlib
import fcntl
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from attest.errors import ManifestError, os_error_line
from attest.manifest import SIGNATURE_DIR, check_path
from signing.errors import BundleError, OutputError
from signing.files import file_kind, open_regular_file

STATE_DIR = ".packseal-installs"
"""packseal's own state inside an install directory: install records and staging directories."""
STAGING_PREFIX = "stage-"
_CHUNK_BYTES = 1024 * 1024


def is_entry_name(name: object) -> bool:
    """Whether `name` can be an entry of an install directory: one safe path component, not packseal's state directory.

    Install records are read back from disk and name the entries the next
    install replaces or removes: a crafted record must not reach outside the
    install directory (`../x`, `/x`), below it, or into packseal's state.
    """
    if not isinstance(name, str) or "/" in name or name == STATE_DIR:
        return False
    try:
        check_path(name)
    except ManifestError:
        return False
    return True


@dataclass(frozen=True)
class Tally:
    """How many regular files, and bytes in them, a bundle holds outside its `.packseal/`."""

    files: int = 0
    bytes: int = 0

    def add(self, size: int) -> "Tally":
        return Tally(self.files + 1, self.bytes + size)


@dataclass
class CopyBudget:
    """What a copy into staging may write of `source` (as the installer named it); None caps nothing.

    Counted on what is written, never on the sizes the source declares: a
    sparse file's `st_size` says nothing of what copying it costs the
    install directory's filesystem, and a file can grow while it is copied.
    So each chunk is counted after it is read and before it is written,
    and the copy stops at the first chunk or entry past a cap, with the
    install option that sets it named, as an archive's limits are.
    """

    source: str
    max_bytes: int | None = None
    """Bytes of every file copied, signatures included."""
    max_files: int | None = None
    """Files, links and directories created, the bundle's own directory included (an archive's members)."""
    written: int = field(default=0, init=False)
    created: int = field(default=0, init=False)

    def entry(self) -> None:
        """Count one file, link or directory about to be created."""
        self.created += 1
        if self.max_files is not None and self.created > self.max_files:
            raise BundleError(
                f"{self.source}: more than {self.max_files} files, links and directories to copy (--max-files); refused"
            )

    def count(self, size: int) -> None:
        """Count `size` bytes about to be written (`write_new_file`'s `counted`)."""
        self.written += size
        if self.max_bytes is not None and self.written > self.max_bytes:
            raise BundleError(f"{self.source}: more than {self.max_bytes} bytes to copy (--max-bytes); refused")


@dataclass(frozen=True)
class InstallState:
    """The state directory of one install directory (`DEST/.packseal-installs/`), which is also its lock.

    A refused or failed install leaves the install directory as it found
    it, so the state directory exists only while an install holds the lock
    or once a record is in it: `prepared` creates it and removes it again
    if it is still empty, and a read (`present`) never creates it.

    The lock is `flock` on the state directory itself: this user's, mode
    0700, so no other user can open it, let alone hold its lock and make
    every install wait. A lock on the install directory would need it
    readable (a mode-0300 DEST takes installs), and anyone who can read it
    could hold that lock for as long as they like. As the directory locked
    can be removed (by the refused install that created it) while others
    wait on it, a lock counts only if the path still names the directory
    locked once it is held; else the waiter starts over.
    """

    dest: Path

    @property
    def path(self) -> Path:
        return self.dest / STATE_DIR

    def record_path(self, name: str) -> Path:
        return self.path / f"{name}.json"

    @contextlib.contextmanager
    def prepared(self) -> Iterator[None]:
        """Hold the lock on the state directory, created (0700) if missing: one installer at a time lands or recovers.

        On exit, a state directory this call created is removed if it is
        still empty, before the lock is let go, and only with `os.rmdir`,
        which removes nothing but an empty directory: once an install record
        is in it, it stays. Nor is it removed once its path names another
        (DEST replaced meanwhile): that one may be another installer's.
        """
        self._check_dest()
        while True:
            created = self._created()
            descriptor = self._locked()
            if descriptor is not None:
                break
        try:
            yield
        finally:
            if created and self._names(descriptor):
                with contextlib.suppress(OSError):  # not empty: an install landed; else the error already raised wins
                    os.rmdir(self.path)
            os.close(descriptor)

    @contextlib.contextmanager
    def present(self) -> Iterator[bool]:
        """For a read: hold the lock and say True if the state directory exists; else False, creating nothing."""
        self._check_dest()
        while (descriptor := self._locked()) is None:
            if not os.path.lexists(self.path):
                yield False
                return
        try:
            yield True
        finally:
            os.close(descriptor)

    def _check_dest(self) -> None:
        if not self.dest.is_dir():
            raise OutputError(f"{self.dest}: the install directory does not exist or is not a directory")

    def _created(self) -> bool:
        """Make the state directory (0700) unless it exists; whether this call made it."""
        try:
            self.path.mkdir(mode=0o700)
        except FileExistsError:
            return False
        except OSError as err:
            raise OutputError(os_error_line(self.path, err, "create directory")) from None
        return True

    def _locked(self) -> int | None:
        """A descriptor of the checked state directory, its lock held; None if the path no longer names it (or none).

        Checked before the lock is waited for: a directory another user owns
        or can write is refused, never waited on.
        """
        try:
            descriptor = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as err:
            with contextlib.suppress(OSError):  # a link or a file there: say so, as the check of what is there
                self._check(self.path.lstat())
            raise OutputError(os_error_line(self.path, err, "lock")) from None
        try:
            self._check(os.fstat(descriptor))
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            if self._names(descriptor):
                return descriptor
        except BaseException:
            os.close(descriptor)
            raise
        os.close(descriptor)
        return None

    def _names(self, descriptor: int) -> bool:
        """Whether the state directory's path names the directory open as `descriptor`."""
        held = os.fstat(descriptor)
        try:
            current = self.path.lstat()
        except FileNotFoundError:
            return False
        return (current.st_dev, current.st_ino) == (held.st_dev, held.st_ino)

    def _check(self, info: os.stat_result) -> None:
        """Refuse a link, a non-directory, another filesystem, others' write access as the state directory.

        A link there would send staging, and the renames out of it, to a
        place of someone else's choosing; another filesystem would make the
        landing a copy instead of a rename. Staging inside is private (0700),
        but whoever owns or can write the state directory can rename a
        staging directory away once it is verified and put their own in its
        place, so the state directory must be this user's and no one else's
        to write.
        """
        if not stat.S_ISDIR(info.st_mode):
            raise OutputError(f"{self.path}: {file_kind(info.st_mode)}, not packseal's state directory")
        if info.st_uid != os.geteuid():
            raise OutputError(f"{self.path}: owned by uid {info.st_uid}, not this user; it could swap what lands")
        if info.st_mode & 0o022:
            mode = f"{stat.S_IMODE(info.st_mode):o}"
            raise OutputError(f"{self.path}: writable by group or others (mode {mode}); they could swap what lands")
        try:
            if info.st_dev != self.dest.stat().st_dev:
                raise OutputError(f"{self.path}: on another filesystem than {self.dest}; packseal lands by rename")
        except OSError as err:
            raise OutputError(os_error_line(self.dest, err, "lock")) from None

    def new_staging(self) -> Path:
        """A new, empty staging directory, mode 0700, inside the state directory."""
        try:
            return Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.path))
        except OSError as err:
            raise OutputError(os_error_line(self.path, err, "create directory")) from None

    def stagings(self) -> list[Path]:
        """Staging directories left by an installer that did not finish; call with the lock held.

        Only directories: the install record of a bundle named `stage-x` is
        the file `stage-x.json` beside them.
        """
        with os.scandir(self.path) as entries:
            return sorted(
                Path(entry.path)
                for entry in entries
                if entry.name.startswith(STAGING_PREFIX) and entry.is_dir(follow_symlinks=False)
            )


def copy_tree(source: Path, target: Path, budget: CopyBudget) -> Tally:
    """Copy the directory `source` as the new directory `target`, links as links, never following one.

    Every entry created and byte written is counted against `budget`.
    An explicit stack, not recursion: how deep a bundle nests is its author's choice.
    """
    try:
        source_mode = source.lstat().st_mode
    except OSError as err:
        raise BundleError(os_error_line(source, err)) from None
    if not stat.S_ISDIR(source_mode):
        raise BundleError(f"{source}: {file_kind(source_mode)}, not a directory")
    tally = Tally()
    _make_directory(target, budget)
    pending = [(source, target, True)]
    while pending:
        directory, copy, counted = pending.pop()
        try:
            children = sorted(os.scandir(directory), key=lambda child: child.name)
        except OSError as err:
            raise BundleError(os_error_line(directory, err)) from None
        for child in children:
            origin, destination = Path(child.path), copy / child.name
            try:
                mode = origin.lstat().st_mode
                if stat.S_ISDIR(mode):
                    _make_directory(destination, budget)
                    signatures = directory == source and child.name == SIGNATURE_DIR
                    pending.append((origin, destination, counted and not signatures))
                elif stat.S_ISLNK(mode):
                    budget.entry()
                    os.symlink(os.readlink(origin), destination)
                elif stat.S_ISREG(mode):
                    size = copy_file(origin, destination, budget)
                    tally = tally.add(size) if counted else tally
                else:
                    raise BundleError(f"{origin}: {file_kind(mode)} cannot be part of a bundle")
            except OSError as err:
                raise BundleError(os_error_line(origin, err)) from None
    return tally


def copy_file(source: Path, target: Path, budget: CopyBudget) -> int:
    """Copy one regular file (never a link) with its executable bit to the new file `target`; its size in bytes.

    The file and its bytes are counted against `budget` as they are written.
    """
    try:
        with open_regular_file(source) as stream:
            executable = bool(os.fstat(stream.fileno()).st_mode & 0o111)
            budget.entry()
            return write_new_file(target, stream, executable=executable, counted=budget.count)
    except FileNotFoundError:
        raise BundleError(f"{source}: missing") from None
    except OSError as err:
        raise BundleError(os_error_line(source, err)) from None


def write_new_file(
    target: Path, stream: IO[bytes], *, executable: bool, counted: Callable[[int], None] | None = None
) -> int:
    """Create `target` (refusing an existing path or a link) with the rest of `stream`, one reused chunk at a time.

    `counted` hears of each chunk's size before it is written, and may raise
    to stop the copy: how an archive's size limits, and a copy's
    (`CopyBudget`), are enforced on the bytes actually produced, not on
    sizes an archive's headers or a file's `st_size` declare.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    descriptor = os.open(target, flags, 0o700 if executable else 0o600)
    size = 0
    with os.fdopen(descriptor, "wb", buffering=0) as output:
        while chunk := stream.read(_CHUNK_BYTES):
            if counted is not None:
                counted(len(chunk))
            output.write(chunk)
            size += len(chunk)
        os.fchmod(output.fileno(), 0o755 if executable else 0o644)
    return size


def _make_directory(path: Path, budget: CopyBudget) -> None:
    budget.entry()
    path.mkdir(mode=0o700)
    path.chmod(0o755)
