"""The audit log: one canonical line per event, chained by hashes, appended atomically and in order."""

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from signing.audit import GENESIS, MAX_LINE_BYTES, AuditEvent, AuditHead, AuditLog, event_line, line_hash, parse_line
from signing.audit_verify import CheckedHead, verify_log
from signing.errors import AuditError

INSTALL = AuditEvent(
    action="install",
    bundle="acme-tools",
    verdict="verified",
    digest="sha256:" + "ab" * 32,
    signers=({"system": "minisign", "key_id": "9A3C"},),
    policy_digest="sha256:" + "cd" * 32,
    detail={"publisher": "acme", "commit": "1" * 40},
)
REFUSED = AuditEvent(
    action="install-refused", bundle="/tmp/dl/pack", verdict="refused", detail={"reason": "files: changed: a"}
)


def lines_of(log: AuditLog) -> list[bytes]:
    return log.path.read_bytes().split(b"\n")[:-1]


def test_each_event_is_one_canonical_line_chained_to_the_previous_one(tmp_path):
    log = AuditLog(tmp_path / "state" / "audit.jsonl")
    log.append(INSTALL)
    log.append(REFUSED)

    first, second = lines_of(log)
    assert log.path.read_bytes().endswith(b"\n")
    one, two = json.loads(first), json.loads(second)
    assert (one["seq"], one["prev"]) == (1, GENESIS)
    assert (two["seq"], two["prev"]) == (2, "sha256:" + hashlib.sha256(first).hexdigest())
    assert one["action"] == "install" and one["digest"] == INSTALL.digest and one["detail"]["publisher"] == "acme"
    assert one["signers"] == [{"system": "minisign", "key_id": "9A3C"}]
    assert one["time"].endswith("Z")
    assert parse_line(second, 2).event == REFUSED
    assert AuditHead.read(log.head_path) == AuditHead(2, "sha256:" + hashlib.sha256(second).hexdigest())


def test_a_file_name_that_is_not_utf8_is_logged_escaped_and_the_chain_verifies(tmp_path):
    """Names come from disks and archives as bytes; a refusal naming one must still be logged, not crash."""
    log = AuditLog(tmp_path / "audit.jsonl")
    name = os.fsdecode(b"evil-\xff.toml")
    log.append(AuditEvent(action="phantom", bundle=name, verdict="refused", detail={"extra": [name], name: 1}))
    log.append(INSTALL)

    [event, _] = log.events()
    assert event.event.bundle == "evil-\\udcff.toml"
    assert event.event.detail == {"extra": ["evil-\\udcff.toml"], "evil-\\udcff.toml": 1}
    assert verify_log(log).verified


def test_an_event_too_large_to_log_is_refused_in_one_line_and_nothing_is_written(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append(INSTALL)
    before = log.path.read_bytes()
    with pytest.raises(AuditError, match="byte limit"):
        log.append(
            AuditEvent(action="install-refused", bundle="x", verdict="refused", detail={"r": "x" * MAX_LINE_BYTES})
        )
    assert log.path.read_bytes() == before


def test_the_log_is_private_to_its_user(tmp_path):
    log = AuditLog(tmp_path / "home" / "audit.jsonl")
    log.append(INSTALL)

    assert stat.S_IMODE(log.path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600


def test_default_place_follows_packseal_home_then_xdg_state_home_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv("PACKSEAL_HOME", str(tmp_path / "ps"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert AuditLog.default().path == tmp_path / "ps" / "audit.jsonl"
    monkeypatch.delenv("PACKSEAL_HOME")
    assert AuditLog.default().path == tmp_path / "state" / "packseal" / "audit.jsonl"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/state")
    assert AuditLog.default().path == tmp_path / "user" / ".local" / "state" / "packseal" / "audit.jsonl"


@pytest.mark.parametrize(
    "fields",
    [
        {"action": "Install"},
        {"verdict": "ok"},
        {"bundle": ""},
        {"digest": "ab" * 32},
        {"policy_digest": "sha256:" + "AB" * 32},
        {"signers": ({"system": 1},)},
    ],
)
def test_an_invalid_event_cannot_be_built(fields):
    with pytest.raises(ValueError):
        AuditEvent(**{"action": "install", "bundle": "b", "verdict": "verified", **fields})


def test_a_log_that_is_a_symlink_is_refused_and_its_target_untouched(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_bytes(b"precious\n")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "audit.jsonl").symlink_to(target)

    with pytest.raises(AuditError, match=r"audit\.jsonl"):
        AuditLog(tmp_path / "home" / "audit.jsonl").append(INSTALL)
    assert target.read_bytes() == b"precious\n"


# --- verifying the chain ---------------------------------------------------


def log_of(tmp_path: Path, count: int = 5) -> AuditLog:
    log = AuditLog(tmp_path / "home" / "audit.jsonl")
    for number in range(1, count + 1):
        log.append(AuditEvent(action="install", bundle=f"pack-{number}", verdict="verified"))
    return log


def rewrite(log: AuditLog, lines: list[bytes]) -> None:
    log.path.write_bytes(b"".join(line + b"\n" for line in lines))


def edited(line: bytes, **fields) -> bytes:
    """The line with fields changed, still canonical JSON: an edit only the chain can show."""
    import rfc8785

    return rfc8785.dumps({**json.loads(line), **fields})


def problem_of(log: AuditLog, heads=()) -> tuple[int, str, str]:
    report = verify_log(log, heads, beside=False)
    assert not report.verified, report
    assert report.problem is not None
    return report.problem.line, report.problem.kind.value, report.problem.detail


def test_an_untouched_log_verifies(tmp_path):
    log = log_of(tmp_path)
    report = verify_log(log)

    assert report.verified, report.problem
    assert report.events == 5 and report.last is not None and report.last.seq == 5
    assert report.last.hash == "sha256:" + hashlib.sha256(lines_of(log)[4]).hexdigest()
    assert [checked.source for checked in report.heads] == ["the head beside the log"]


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (lambda ls: ls.__setitem__(2, edited(ls[2], bundle="evil")), (3, "edited")),
        (lambda ls: ls.__setitem__(0, edited(ls[0], verdict="refused")), (1, "edited")),
        (lambda ls: ls.__setitem__(2, edited(ls[2], seq=7)), (3, "edited")),
        (lambda ls: ls.__setitem__(3, edited(ls[3], prev="sha256:" + "0" * 64)), (4, "edited")),
        (lambda ls: ls.__delitem__(2), (3, "removed")),
        (lambda ls: ls.__delitem__(0), (1, "removed")),
        (lambda ls: ls.__delitem__(slice(1, 3)), (2, "removed")),
        (lambda ls: ls.insert(2, edited(ls[2], bundle="forged")), (3, "inserted")),
        (lambda ls: ls.insert(4, ls[1]), (5, "inserted")),
        (lambda ls: ls.__setitem__(slice(1, 3), [ls[2], ls[1]]), (2, "reordered")),
        (lambda ls: ls.append(ls.pop(0)), (1, "reordered")),
        (lambda ls: ls.__setitem__(2, b"not json"), (3, "malformed")),
        (lambda ls: ls.__setitem__(2, ls[2].replace(b'{"action"', b'{ "action"')), (3, "malformed")),
    ],
    ids=[
        "content-edited",
        "first-line-edited",
        "seq-edited",
        "prev-edited",
        "removed",
        "first-removed",
        "two-removed",
        "forged-inserted",
        "copy-inserted",
        "swapped",
        "first-moved-to-end",
        "garbage",
        "not-canonical",
    ],
)
def test_each_kind_of_tampering_is_named_at_its_first_line(tmp_path, tamper, expected):
    log = log_of(tmp_path)
    lines = lines_of(log)
    tamper(lines)
    rewrite(log, lines)

    line, kind, detail = problem_of(log)
    assert (line, kind) == expected, detail


def test_an_edit_of_the_last_line_shows_only_against_a_head_taken_before(tmp_path):
    log = log_of(tmp_path)
    head = CheckedHead(log.head(), "the head kept elsewhere")
    lines = lines_of(log)
    lines[4] = edited(lines[4], bundle="evil")
    rewrite(log, lines)

    assert verify_log(log, beside=False).verified
    assert problem_of(log, [head])[:2] == (5, "edited")


def test_a_cut_tail_verifies_without_a_head_and_is_refused_with_one(tmp_path):
    log = log_of(tmp_path)
    head = CheckedHead(log.head(), "the head kept elsewhere")
    rewrite(log, lines_of(log)[:3])

    assert verify_log(log, beside=False).verified
    line, kind, detail = problem_of(log, [head])
    assert (line, kind) == (3, "truncated")
    assert "names event 5" in detail
    beside = verify_log(log)
    assert beside.problem is not None and beside.problem.kind.value == "truncated"


def test_an_empty_log_is_refused_against_a_head(tmp_path):
    log = log_of(tmp_path)
    head = CheckedHead(log.head(), "the head kept elsewhere")
    log.path.write_bytes(b"")

    assert problem_of(log, [head])[:2] == (0, "truncated")


# --- torn appends ----------------------------------------------------------


def test_a_torn_append_leaves_later_appends_chained_to_the_last_complete_event(tmp_path):
    log = log_of(tmp_path, 3)
    complete = lines_of(log)
    torn = event_line(REFUSED, seq=4, prev=line_hash(complete[2]))[:40]
    with log.path.open("ab") as stream:
        stream.write(torn)

    before = verify_log(log)
    assert before.verified, before.problem
    assert before.torn == (4,) and "line 4: torn write" in before.notes[0]

    log.append(INSTALL)
    log.append(REFUSED)
    lines = lines_of(log)
    assert lines[3] == torn
    fourth = parse_line(lines[4], 5)
    assert (fourth.seq, fourth.prev, fourth.torn) == (4, line_hash(complete[2]), (line_hash(torn),))
    after = verify_log(log)
    assert after.verified, after.problem
    assert (after.events, after.torn, after.notes) == (5, (4,), ())


@pytest.mark.parametrize("garbage", [b"not an event", b"[1, 2]", b"\x00\xff"], ids=["text", "json-array", "binary"])
@pytest.mark.parametrize("events", [0, 2])
def test_lines_that_cannot_be_the_start_of_an_event_are_not_torn_writes(tmp_path, garbage, events):
    """A torn write is a prefix of an event line: a log of garbage is malformed, not a log of 0 events verified."""
    log = log_of(tmp_path, events)
    log.path.parent.mkdir(parents=True, exist_ok=True)
    with log.path.open("ab") as stream:
        stream.write(garbage + b"\n" + garbage)

    assert problem_of(log)[:2] == (events + 1, "malformed")


def test_a_complete_event_missing_only_its_newline_is_an_event(tmp_path):
    log = log_of(tmp_path, 2)
    log.path.write_bytes(log.path.read_bytes()[:-1])

    log.append(INSTALL)
    report = verify_log(log)
    assert report.verified, report.problem
    assert report.events == 3 and report.torn == ()


def test_a_deleted_event_cannot_pass_for_a_torn_write(tmp_path):
    """Event 3 replaced by a prefix of itself, as a crash would leave it, even recorded as torn: event 3 is missing."""
    log = log_of(tmp_path)
    lines = lines_of(log)
    lines[2] = lines[2][:40]
    rewrite(log, lines)

    assert problem_of(log)[:2] == (3, "malformed")
    lines[3] = edited(lines[3], torn=[line_hash(lines[2])])
    rewrite(log, lines)
    line, kind, detail = problem_of(log)
    assert (line, kind) == (4, "removed") and "event 3 is missing" in detail


def test_the_last_event_cut_to_a_fragment_and_appended_over_shows_against_a_head(tmp_path):
    """The next append chains past a cut last event; a head stored elsewhere still names the lost one."""
    log = log_of(tmp_path)
    head = CheckedHead(log.head(), "the head kept elsewhere")
    lines = lines_of(log)
    log.path.write_bytes(b"".join(line + b"\n" for line in lines[:4]) + lines[4][:30])
    log.append(INSTALL)

    assert verify_log(log).verified
    line, kind, detail = problem_of(log, [head])
    assert (line, kind) == (6, "edited") and "event 5 is not the one the head kept elsewhere names" in detail


# --- concurrent appends -----------------------------------------------------

APPENDER = """
import sys
from signing.audit import AuditEvent, AuditLog
log, worker, count = AuditLog(sys.argv[1]), sys.argv[2], int(sys.argv[3])
for number in range(count):
    log.append(AuditEvent(action="install", bundle=f"w{worker}-{number}", verdict="verified"))
"""


@pytest.mark.slow
def test_eight_concurrent_installer_processes_leave_one_valid_chain_with_every_event_once(tmp_path):
    log = AuditLog(tmp_path / "home" / "audit.jsonl")
    workers = [
        subprocess.Popen([sys.executable, "-c", APPENDER, str(log.path), str(worker), "50"]) for worker in range(8)
    ]
    assert [worker.wait(timeout=300) for worker in workers] == [0] * 8

    report = verify_log(log)
    assert report.verified, report.problem
    assert report.events == 400 and report.torn == ()
    bundles = [json.loads(line)["bundle"] for line in lines_of(log)]
    assert sorted(bundles) == sorted(f"w{w}-{n}" for w in range(8) for n in range(50))
    assert [json.loads(line)["seq"] for line in lines_of(log)] == list(range(1, 401))


def test_the_audit_log_is_public_api():
    import signing

    assert (signing.AuditEvent, signing.AuditLog, signing.AuditError) == (AuditEvent, AuditLog, AuditError)
