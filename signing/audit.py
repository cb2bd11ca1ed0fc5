"""The audit log: every install, refused install and refused verification, as a hash chain on disk.

The log is a file of lines, each one RFC 8785 canonical JSON object
(`attest.canonical`) with a sequence number, the UTC time, the event's
fields and `prev`, the sha256 of the exact bytes of the previous event's
line (without its newline); the first event's `prev` is `GENESIS`. Editing,
removing, inserting or reordering a line breaks a link or the numbering,
and `signing.audit_verify` names the first line where that happens. Cutting
events off the end breaks nothing inside the file: only a head (the last
sequence number and hash) kept elsewhere shows it; one is kept beside the
log as well, against accidents.

Appends are serialised across processes by `flock` on a lock file beside
the log; each writes one line with `O_APPEND` in one `write` and fsyncs it.
A crash may leave a torn line: a prefix of an event, with no newline. The
next append starts a new line after it and records the torn bytes' hash in
its `torn` field, and its `prev` links to the last complete event, never to
the fragment: a fragment carries no event, so one cannot stand in for a
removed event without breaking the chain at the next one.
"""

import contextlib
import fcntl
import hashlib
import os
import re
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from attest.canonical import canonical_json, parse_canonical_json
from attest.errors import CanonicalJSONError, os_error_line
from attest.statement import SHA256_HEX
from signing.errors import AuditError, BundleError, OutputError
from signing.files import PathLike, file_kind, fsync_directory, read_regular_file, replace_together

LOG_FORMAT = 1
"""The `format` of every line this version writes and reads."""
GENESIS = "sha256:" + "0" * 64
"""The `prev` of the first event: no event comes before it."""
MAX_LINE_BYTES = 1024 * 1024
"""Longest line written or read; an event's `detail` is a few lines of text, not a bundle's file list."""
VERDICTS = frozenset({"verified", "refused"})
HOME_VARIABLE = "PACKSEAL_HOME"
"""The directory of packseal's own state, the audit log among it; not a trust option."""

_DIGEST = re.compile(f"sha256:{SHA256_HEX.pattern}")
_ACTION = re.compile(r"[a-z][a-z-]*")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_LINE_KEYS = {"format", "seq", "time", "prev", "action", "bundle", "verdict", "digest", "signers", "policy_digest"}
_LINE_OPTIONAL_KEYS = {"detail", "torn"}
_READ_CHUNK = 64 * 1024
_MAX_HEAD_BYTES = 4096


@dataclass(frozen=True)
class AuditEvent:
    """What happened: one install, refused install or refused verification, as the log records it.

    `bundle` is the bundle's name, or the path or URL it came from when it
    has no name yet; `signers` are `Signer.to_json()` of each signer;
    `policy_digest` is the trust policy file's `sha256:<hex>`; `detail`
    holds what else a reader needs (publisher, source, commit, and for a
    refusal `reason`, the refusing check's line). An invalid event cannot
    be built, so a bad caller fails before anything is written.
    """

    action: str
    bundle: str
    verdict: str
    digest: str | None = None
    signers: tuple[Mapping[str, str], ...] = ()
    policy_digest: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.action, str) or not _ACTION.fullmatch(self.action):
            raise ValueError(f"audit action {self.action!r} must be lower-case words joined by '-'")
        if not isinstance(self.bundle, str) or not self.bundle:
            raise ValueError("an audit event names its bundle")
        if self.verdict not in VERDICTS:
            raise ValueError(f"audit verdict {self.verdict!r} is not one of {sorted(VERDICTS)}")
        for name in ("digest", "policy_digest"):
            value = getattr(self, name)
            if value is not None and not _is_digest(value):
                raise ValueError(f"audit {name} {value!r} is not sha256:<64 lowercase hex digits>")
        if not all(
            isinstance(signer, Mapping) and all(isinstance(v, str) for v in (*signer, *signer.values()))
            for signer in self.signers
        ):
            raise ValueError("each audit signer is a mapping of strings (Signer.to_json())")
        if not isinstance(self.detail, Mapping) or not all(isinstance(key, str) for key in self.detail):
            raise ValueError("audit detail is a mapping with string keys")

    def to_json(self) -> dict[str, Any]:
        """The event's own fields, as its log line and `audit show --json` hold them."""
        return {
            "action": self.action,
            "bundle": self.bundle,
            "verdict": self.verdict,
            "digest": self.digest,
            "signers": [dict(signer) for signer in self.signers],
            "policy_digest": self.policy_digest,
            "detail": dict(self.detail),
        }


@dataclass(frozen=True)
class LoggedEvent:
    """An event as read from the log: its line number, sequence number, time, and the links of the chain.

    `hash` is `sha256:<hex>` of the line's bytes, which the next event's
    `prev` must equal; `torn` the hashes of torn lines this event's append
    found after the previous event.
    """

    line: int
    seq: int
    time: str
    prev: str
    hash: str
    event: AuditEvent
    torn: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "seq": self.seq, "time": self.time, "hash": self.hash, **self.event.to_json()}


def line_hash(line: bytes) -> str:
    """`sha256:<hex>` of a line's exact bytes, without its newline: what the next event's `prev` holds."""
    return f"sha256:{hashlib.sha256(line).hexdigest()}"


def parse_line(line: bytes, number: int) -> LoggedEvent:
    """Read one line (without its newline) as an event; raise `AuditError` naming the line if it is not one."""
    where = f"line {number}"
    if len(line) > MAX_LINE_BYTES:
        raise AuditError(f"{where}: {len(line)} bytes is over the {MAX_LINE_BYTES} byte limit of a line")
    try:
        value = parse_canonical_json(line, what=where)
    except CanonicalJSONError as err:
        raise AuditError(str(err)) from None
    if not isinstance(value, dict):
        raise AuditError(f"{where}: not a JSON object")
    missing, unknown = _LINE_KEYS - value.keys(), value.keys() - _LINE_KEYS - _LINE_OPTIONAL_KEYS
    if missing or unknown:
        raise AuditError(f"{where}: missing fields {sorted(missing)}, unknown fields {sorted(unknown)}")
    if value["format"] != LOG_FORMAT:
        raise AuditError(f"{where}: format {value['format']!r} is not format {LOG_FORMAT}, the one this packseal reads")
    seq, time, prev, torn = value["seq"], value["time"], value["prev"], value.get("torn", [])
    if type(seq) is not int or seq < 1:
        raise AuditError(f"{where}: seq must be a positive integer")
    if not isinstance(time, str) or not _TIME.fullmatch(time):
        raise AuditError(f"{where}: time must be UTC as YYYY-MM-DDTHH:MM:SSZ")
    if not isinstance(prev, str) or not _DIGEST.fullmatch(prev):
        raise AuditError(f"{where}: prev must be sha256:<64 lowercase hex digits>")
    if not isinstance(torn, list) or (not torn and "torn" in value) or not all(_is_digest(t) for t in torn):
        raise AuditError(f"{where}: torn must be a non-empty list of sha256:<hex> digests")
    signers = value["signers"]
    if not isinstance(signers, list) or not all(isinstance(signer, dict) for signer in signers):
        raise AuditError(f"{where}: signers must be a list of objects")
    try:
        event = AuditEvent(
            action=_string(value["action"], "action", where),
            bundle=_string(value["bundle"], "bundle", where),
            verdict=_string(value["verdict"], "verdict", where),
            digest=value["digest"],
            signers=tuple(signers),
            policy_digest=value["policy_digest"],
            detail=value.get("detail", {}),
        )
    except ValueError as err:
        raise AuditError(f"{where}: {err}") from None
    return LoggedEvent(number, seq, time, prev, line_hash(line), event, tuple(torn))


def _is_digest(value: Any) -> bool:
    return isinstance(value, str) and _DIGEST.fullmatch(value) is not None


def _string(value: Any, name: str, where: str) -> str:
    if not isinstance(value, str):
        raise AuditError(f"{where}: {name} must be a string")
    return value


def event_line(event: AuditEvent, *, seq: int, prev: str, torn: tuple[str, ...] = (), time: str | None = None) -> bytes:
    """The line (without its newline) that logs `event` as number `seq` after the event whose hash is `prev`.

    Raises `AuditError` when the line would be longer than a reader accepts.
    """
    value: dict[str, Any] = {
        **event.to_json(),
        "format": LOG_FORMAT,
        "seq": seq,
        "time": time or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "prev": prev,
    }
    if not value["detail"]:
        del value["detail"]
    if torn:
        value["torn"] = list(torn)
    try:
        line = canonical_json(_loggable(value))
    except CanonicalJSONError as err:
        raise ValueError(f"audit event detail: {err}") from None
    if len(line) > MAX_LINE_BYTES:
        raise AuditError(
            f"audit event for {event.bundle!r} of {len(line)} bytes is over the {MAX_LINE_BYTES} "
            "byte limit of a line; not logged"
        )
    return line


_SURROGATE = re.compile("[\ud800-\udfff]")


def _loggable(value: Any) -> Any:
    """`value` with each lone surrogate in its strings written as `\\udcXX`, as `signing.terminal.escape` shows it.

    A name read from a disk or an archive that is not UTF-8 arrives as such
    surrogates (`os.fsdecode`), which no JSON line can hold; a refusal or a
    phantom naming one must still be logged.
    """
    if isinstance(value, str):
        return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", value)
    if isinstance(value, dict):
        return {_loggable(key): _loggable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_loggable(item) for item in value]
    return value


@dataclass(frozen=True)
class Tail:
    """The end of a log as an appender needs it: the last complete event, and the torn lines after it."""

    last: LoggedEvent | None
    torn: tuple[bytes, ...]
    ends_with_newline: bool


class AuditLog:
    """A hash-chained audit log at `path`, with its lock file and head beside it."""

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"AuditLog({str(self.path)!r})"

    @classmethod
    def default(cls) -> "AuditLog":
        """`$PACKSEAL_HOME/audit.jsonl`, else `$XDG_STATE_HOME/packseal/audit.jsonl`, else `~/.local/state/packseal/`.

        Relative or empty variables are ignored, as the XDG specification
        asks, so a command run elsewhere never writes a log into its
        working directory.
        """
        home = os.environ.get(HOME_VARIABLE, "")
        if os.path.isabs(home):
            return cls(Path(home) / "audit.jsonl")
        state = os.environ.get("XDG_STATE_HOME", "")
        base = Path(state) if os.path.isabs(state) else Path.home() / ".local" / "state"
        return cls(base / "packseal" / "audit.jsonl")

    @property
    def lock_path(self) -> Path:
        """The file `flock`ed while appending: beside the log, so the log itself is only ever appended to."""
        return self.path.with_name(f"{self.path.name}.lock")

    @property
    def head_path(self) -> Path:
        """The unsigned head kept beside the log; it shows accidental truncation, not an attacker's."""
        return self.path.with_name(f"{self.path.name}.head")

    def append(self, event: AuditEvent) -> None:
        """Log `event` after the last complete event, with the time, its sequence number and the previous hash.

        Holds an exclusive `flock` on the lock file for the whole append, so
        concurrent installers (processes or threads) each add exactly one
        line, in some order, and the chain stays whole. The line is written
        with one `write` on an `O_APPEND` descriptor and fsynced (and the
        directory, when the log is new) before this returns. Creates the
        log's directory 0700 and the log 0600. Raises `AuditError` when the
        log cannot be written or its end is not a log line.
        """
        created = self._make_directory()
        with self._locked(), self._open(os.O_RDWR | os.O_APPEND | os.O_CREAT) as descriptor:
            tail = read_tail(descriptor, self.path)
            seq = 1 if tail.last is None else tail.last.seq + 1
            prev = GENESIS if tail.last is None else tail.last.hash
            line = event_line(event, seq=seq, prev=prev, torn=tuple(line_hash(piece) for piece in tail.torn))
            data = (b"" if tail.ends_with_newline else b"\n") + line + b"\n"
            try:
                written = os.write(descriptor, data)
                if written != len(data):
                    raise OSError(f"wrote {written} of {len(data)} bytes")
                os.fsync(descriptor)
            except OSError as err:
                raise AuditError(os_error_line(self.path, err, "append to")) from None
            if created:
                fsync_directory(self.path.parent)
            self._write_head(AuditHead(seq, line_hash(line)))

    def head(self) -> "AuditHead":
        """The last complete event as a head, read back from the end of the log; refused when there is none."""
        with self._open(os.O_RDONLY) as descriptor:
            tail = read_tail(descriptor, self.path)
        if tail.last is None:
            raise AuditError(f"{self.path}: holds no event, so it has no head")
        return AuditHead(tail.last.seq, tail.last.hash)

    def events(self) -> Iterator[LoggedEvent]:
        """Every line of the log that is an event, in file order; whether they chain is `verify_log`'s to say."""
        for number, data, _ in self.lines():
            try:
                event = parse_line(data, number)
            except AuditError:
                continue
            yield event

    def lines(self) -> Iterator[tuple[int, bytes, bool]]:
        """Each line of the log: its number (from 1), its bytes without newline, and whether it ended with one.

        Streams in bounded memory: a line over `MAX_LINE_BYTES` is yielded
        cut at the limit plus one byte, for the reader to refuse.
        """
        with self._open(os.O_RDONLY) as descriptor, open(descriptor, "rb", closefd=False) as stream:
            number = 0
            while chunk := stream.readline(MAX_LINE_BYTES + 2):
                number += 1
                ended = chunk.endswith(b"\n")
                while not ended and len(chunk) > MAX_LINE_BYTES and (rest := stream.readline(_READ_CHUNK)):
                    ended = rest.endswith(b"\n")
                yield number, chunk.removesuffix(b"\n"), ended

    def _make_directory(self) -> bool:
        """Create the log's directory 0700 if missing; whether the log itself is about to be created."""
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as err:
            raise AuditError(os_error_line(self.path.parent, err, "create directory")) from None
        return not os.path.lexists(self.path)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            descriptor = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as err:
            raise AuditError(os_error_line(self.lock_path, err, "lock")) from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)

    @contextlib.contextmanager
    def _open(self, flags: int) -> Iterator[int]:
        """The log, opened without following a link and refused unless it is a regular file."""
        try:
            descriptor = os.open(self.path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o600)
        except FileNotFoundError:
            raise AuditError(f"{self.path}: no audit log here (nothing was logged, or it was removed)") from None
        except OSError as err:
            raise AuditError(os_error_line(self.path, err, "open")) from None
        try:
            mode = os.fstat(descriptor).st_mode
            if not stat.S_ISREG(mode):
                raise AuditError(f"{self.path}: {file_kind(mode)}, not an audit log file")
            yield descriptor
        finally:
            os.close(descriptor)

    def _write_head(self, head: "AuditHead") -> None:
        try:
            replace_together({self.head_path: head.to_bytes()})
        except OutputError as err:
            raise AuditError(str(err)) from None


@dataclass(frozen=True)
class AuditHead:
    """The last event of a log, by sequence number and line hash: what a shorter log lacks.

    Stored where whoever can rewrite the log cannot (or signed with a key
    they lack, `signing.audit_head`), it shows events cut off the end, and
    a log rewritten from some event on; the copy beside the log shows only
    accidents.
    """

    seq: int
    hash: str

    def to_bytes(self) -> bytes:
        return canonical_json({"format": LOG_FORMAT, "seq": self.seq, "hash": self.hash})

    @classmethod
    def from_bytes(cls, data: bytes, *, what: str) -> "AuditHead":
        """Read a head, refusing anything but the canonical document `to_bytes` writes."""
        try:
            value = parse_canonical_json(data, what=what)
        except CanonicalJSONError as err:
            raise AuditError(str(err)) from None
        if not isinstance(value, dict) or value.keys() != {"format", "seq", "hash"}:
            raise AuditError(f"{what}: not an audit head (an object of format, seq and hash)")
        if value["format"] != LOG_FORMAT:
            raise AuditError(f"{what}: format {value['format']!r} is not format {LOG_FORMAT}")
        seq, digest = value["seq"], value["hash"]
        if type(seq) is not int or seq < 1 or not _is_digest(digest):
            raise AuditError(f"{what}: seq must be a positive integer and hash sha256:<64 lowercase hex digits>")
        return cls(seq, digest)

    @classmethod
    def read(cls, path: PathLike) -> "AuditHead":
        try:
            data = read_regular_file(path, _MAX_HEAD_BYTES, follow_symlinks=True)
        except BundleError as err:
            raise AuditError(f"audit head {err}") from None
        return cls.from_bytes(data, what=str(path))


def read_tail(descriptor: int, path: Path) -> Tail:
    """The last complete event of the open log and the torn lines after it, reading back from the end.

    A line counts as the event it parses as, even when a crash cut only its
    newline; every other line after the last event is torn. Reads only as
    far back as the last event, so an append costs the same however long
    the log.
    """
    try:
        size = os.fstat(descriptor).st_size
        start, buffer = size, b""
        while True:
            start = max(0, start - _READ_CHUNK)
            buffer = os.pread(descriptor, size - start - len(buffer), start) + buffer
            pieces = buffer.split(b"\n")
            complete = pieces if start == 0 else pieces[1:]
            torn: list[bytes] = []
            for index in range(len(complete) - 1, -1, -1):
                piece = complete[index]
                if index == len(complete) - 1 and not piece:
                    continue
                event = _event_or_none(piece)
                if event is not None:
                    return Tail(event, tuple(reversed(torn)), buffer.endswith(b"\n"))
                torn.append(piece)
            if start == 0:
                return Tail(None, tuple(reversed(torn)), size == 0 or buffer.endswith(b"\n"))
    except OSError as err:
        raise AuditError(os_error_line(path, err, "read")) from None


def _event_or_none(piece: bytes) -> LoggedEvent | None:
    try:
        return parse_line(piece, 0)
    except AuditError:
        return None
