"""Verify an audit log's chain, and name the first line that was edited, removed, inserted or reordered.

Each event's line carries its sequence number and `prev`, the hash of the
previous event's line. Walking the log, an event that does not follow the
last good one (number one higher, `prev` its hash) is classified by what
the numbers and links around it show:

- its `prev` links to the last good event but its number is wrong: it was
  edited (its number);
- its number was seen already: inserted (a copy of an earlier event);
- the next event follows the last good one, and this one does not lead to
  it: inserted (a forged line);
- its number skips ahead: if the skipped event comes later in the log, the
  lines were reordered; if not, events were removed;
- its number is right but its `prev` is not the last good event's hash:
  the last good event's line was edited, when this event itself is intact
  (the next event, or a head, links to it); otherwise this line was.

A line that is not an event is a torn write only when the next event's
append recorded it (`torn`), or when it lies after the last event (an
append interrupted since): otherwise it is malformed. Events cut off the
end break nothing inside the file; a head (`AuditHead`) shows them: the log
must hold the head's event, with the head's hash.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from itertools import chain
from pathlib import Path
from typing import Any

from signing.audit import GENESIS, AuditHead, AuditLog, LoggedEvent, line_hash, parse_line
from signing.errors import AuditError


class Tampering(Enum):
    """What the first bad line of a log shows was done to it."""

    EDITED = "edited"
    REMOVED = "removed"
    INSERTED = "inserted"
    REORDERED = "reordered"
    MALFORMED = "malformed"
    TRUNCATED = "truncated"


@dataclass(frozen=True)
class AuditProblem:
    """The first line where the log stops verifying, what was done there, and why that is the verdict."""

    line: int
    kind: Tampering
    detail: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.kind.value}: {self.detail}"

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "kind": self.kind.value, "detail": self.detail}


@dataclass(frozen=True)
class CheckedHead:
    """A head the log was checked against, and where it came from (`beside the log`, a file, its signer)."""

    head: AuditHead
    source: str


@dataclass(frozen=True)
class AuditReport:
    """The outcome of verifying a log: how far its chain verified, and the first problem, if any.

    `torn` are the line numbers of torn writes, which carry no event;
    `notes` what a reader should know though it is no refusal (no head, so
    a cut tail could not show).
    """

    log: Path
    events: int
    last: LoggedEvent | None
    heads: tuple[CheckedHead, ...] = ()
    torn: tuple[int, ...] = ()
    notes: tuple[str, ...] = ()
    problem: AuditProblem | None = None

    @property
    def verified(self) -> bool:
        return self.problem is None

    def to_json(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "log": str(self.log),
            "events": self.events,
            "head": None if self.last is None else {"seq": self.last.seq, "hash": self.last.hash},
            "heads": [{"seq": h.head.seq, "hash": h.head.hash, "source": h.source} for h in self.heads],
            "torn_lines": list(self.torn),
            "notes": list(self.notes),
            "problem": None if self.problem is None else self.problem.to_json(),
        }


@dataclass(frozen=True)
class _Fragment:
    line: int
    data: bytes
    error: str


@dataclass(frozen=True)
class _Segment:
    """The non-event lines before an event, and that event; the last segment has no event."""

    fragments: tuple[_Fragment, ...]
    event: LoggedEvent | None


@dataclass
class _Walk:
    log: AuditLog
    heads: Sequence[CheckedHead]
    last: LoggedEvent | None = None
    events: int = 0
    torn: list[int] = field(default_factory=list)


def verify_log(log: AuditLog, heads: Sequence[CheckedHead] = (), *, beside: bool = True) -> AuditReport:
    """Verify every line of `log`, and that it holds the event of each head, with the head's hash.

    With `beside`, the unsigned head kept beside the log is checked too
    when it exists. Raises `AuditError` only when the log cannot be read at
    all; a log that does not verify is a report with its `problem`.
    """
    heads = [*heads, *_head_beside(log, beside)]
    walk = _Walk(log, heads)
    notes: list[str] = []
    segments = _segments(log)
    current = next(segments)
    problem = None
    for following in chain(segments, [None]):
        if current.event is None:
            problem = _check_torn_tail(current.fragments)
            if problem is None:
                notes += [f"line {f.line}: torn write (an interrupted append), no event" for f in current.fragments]
                walk.torn += [f.line for f in current.fragments]
            break
        problem = _check_segment(walk, current, None if following is None else following.event)
        if problem is not None:
            break
        assert following is not None
        current = following
    if problem is None:
        problem = _check_heads(walk)
    if beside and not log.head_path.exists() and walk.events:
        notes.append(f"{log.head_path}: no head beside the log, so even an accidental cut of its end would not show")
    return AuditReport(log.path, walk.events, walk.last, tuple(heads), tuple(walk.torn), tuple(notes), problem)


def _head_beside(log: AuditLog, beside: bool) -> list[CheckedHead]:
    if not beside or not log.head_path.exists():
        return []
    return [CheckedHead(AuditHead.read(log.head_path), "the head beside the log")]


def _segments(log: AuditLog) -> Iterator[_Segment]:
    fragments: list[_Fragment] = []
    for number, data, _ in log.lines():
        try:
            event = parse_line(data, number)
        except AuditError as err:
            fragments.append(_Fragment(number, data, str(err)))
            continue
        yield _Segment(tuple(fragments), event)
        fragments = []
    yield _Segment(tuple(fragments), None)


def _check_segment(walk: _Walk, segment: _Segment, following: LoggedEvent | None) -> AuditProblem | None:
    event = segment.event
    assert event is not None
    problem = _check_fragments(walk, segment.fragments, event) or _check_link(walk, event, following)
    if problem is None:
        problem = next((_differs(h, event) for h in walk.heads if h.head.seq == event.seq), None)
    if problem is None:
        walk.last, walk.events = event, walk.events + 1
    return problem


_EVENT_LINE_START = b'{"'
"""How every event line starts (a canonical JSON object): a torn write, a prefix of one, starts so too."""


def _check_torn_tail(fragments: Sequence[_Fragment]) -> AuditProblem | None:
    """Lines after the last event no event records: each must be able to be a prefix of an event line.

    Anything else is malformed, not an interrupted append: a log of garbage
    does not verify as a log of no events.
    """
    for fragment in fragments:
        if not (fragment.data.startswith(_EVENT_LINE_START) or _EVENT_LINE_START.startswith(fragment.data)):
            detail = fragment.error.removeprefix(f"line {fragment.line}: ")
            return AuditProblem(fragment.line, Tampering.MALFORMED, f"not an event ({detail}), nor the start of one")
    return None


def _check_fragments(walk: _Walk, fragments: Sequence[_Fragment], event: LoggedEvent) -> AuditProblem | None:
    """Lines before `event` that are not events must be exactly the torn lines its append recorded."""
    for fragment in fragments:
        if line_hash(fragment.data) not in event.torn:
            return AuditProblem(
                fragment.line,
                Tampering.MALFORMED,
                f"not an event ({fragment.error.removeprefix(f'line {fragment.line}: ')}), "
                f"and not a torn write that event {event.seq} (line {event.line}) records",
            )
    if tuple(line_hash(f.data) for f in fragments) != event.torn:
        return AuditProblem(
            event.line, Tampering.REMOVED, f"event {event.seq} records torn lines before it that are not there"
        )
    walk.torn += [f.line for f in fragments]
    return None


def _check_link(walk: _Walk, event: LoggedEvent, following: LoggedEvent | None) -> AuditProblem | None:
    previous = walk.last
    seq, prev = (0, GENESIS) if previous is None else (previous.seq, previous.hash)
    after = "the start of the log" if previous is None else f"event {seq} (line {previous.line})"
    if event.seq == seq + 1 and event.prev == prev:
        return None
    if event.prev == prev:
        return _problem(event, Tampering.EDITED, f"event {event.seq} links to {after} but is numbered {event.seq}")
    if previous is not None and (event.seq, event.prev) == (seq, previous.prev) and _intact(walk, event, following):
        detail = f"event {seq} is not in the chain: the event after it links to the event {seq} on line {event.line}"
        return AuditProblem(previous.line, Tampering.INSERTED, detail)
    if event.seq <= seq:
        first = _line_of(walk.log, event.seq, after=0)
        return _problem(event, Tampering.INSERTED, f"a second event {event.seq} (the first is on line {first})")
    if following is not None and following.seq == seq + 1 and following.prev == prev and event.prev != following.hash:
        return _problem(event, Tampering.INSERTED, f"event {event.seq} is not in the chain, which goes on past it")
    if event.seq > seq + 1:
        line = _line_of(walk.log, seq + 1, after=event.line)
        if line is not None:
            detail = f"event {event.seq} comes before event {seq + 1} (line {line})"
            return _problem(event, Tampering.REORDERED, detail)
        missing = f"event {seq + 1} is" if event.seq == seq + 2 else f"events {seq + 1} to {event.seq - 1} are"
        return _problem(event, Tampering.REMOVED, f"{missing} missing between {after} and this line")
    if previous is not None and _intact(walk, event, following):
        detail = f"event {seq} is not what event {event.seq} (line {event.line}) chained to"
        return AuditProblem(previous.line, Tampering.EDITED, detail)
    return _problem(event, Tampering.EDITED, f"event {event.seq} does not link to {after}")


def _intact(walk: _Walk, event: LoggedEvent, following: LoggedEvent | None) -> bool:
    """Whether what comes after `event` (the next event, else a head of it) still links to its line as it is."""
    if following is not None:
        return following.prev == event.hash
    return all(h.head.hash == event.hash for h in walk.heads if h.head.seq == event.seq)


def _differs(checked: CheckedHead, event: LoggedEvent) -> AuditProblem | None:
    if checked.head.hash == event.hash:
        return None
    detail = f"event {event.seq} is not the one {checked.source} names ({checked.head.hash}): edited, or rewritten"
    return _problem(event, Tampering.EDITED, detail)


def _check_heads(walk: _Walk) -> AuditProblem | None:
    """Each head's event must be in the log; a head beyond its last event means events were cut off its end."""
    last_seq = 0 if walk.last is None else walk.last.seq
    for checked in walk.heads:
        if checked.head.seq > last_seq:
            ends = "has no event" if walk.last is None else f"ends at event {last_seq} (line {walk.last.line})"
            return AuditProblem(
                0 if walk.last is None else walk.last.line,
                Tampering.TRUNCATED,
                f"the log {ends}, but {checked.source} names event {checked.head.seq}: events were cut off its end",
            )
    return None


def _problem(event: LoggedEvent, kind: Tampering, detail: str) -> AuditProblem:
    return AuditProblem(event.line, kind, detail)


def _line_of(log: AuditLog, seq: int, *, after: int) -> int | None:
    """The line of the first event numbered `seq` after line `after`: read again, only once a problem was found."""
    for segment in _segments(log):
        if segment.event is not None and segment.event.line > after and segment.event.seq == seq:
            return segment.event.line
    return None
