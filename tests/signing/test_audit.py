"""The audit log: one canonical line per event, chained by hashes, appended atomically and in order."""

import hashlib
import json
import stat

import pytest

from signing.audit import GENESIS, AuditEvent, AuditHead, AuditLog, parse_line
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
