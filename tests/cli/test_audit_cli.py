"""`packseal audit verify`, `audit show` and `audit head`, run as an installer's operator runs them."""

from __future__ import annotations

import json
from pathlib import Path

import json_output
import pytest
import rfc8785

from signing.audit import AuditEvent, AuditLog

EVENTS = [
    AuditEvent(
        action="install",
        bundle="acme-tools",
        verdict="verified",
        digest="sha256:" + "ab" * 32,
        signers=({"system": "minisign", "key_id": "9A3C"},),
        policy_digest="sha256:" + "cd" * 32,
        detail={"publisher": "acme", "commit": "1" * 40},
    ),
    AuditEvent(
        action="install-refused",
        bundle="evil\x1b[2Jpack",
        verdict="refused",
        detail={"reason": "files: changed: bin/run"},
    ),
    AuditEvent(action="verify-refused", bundle="/dl/other", verdict="refused"),
    AuditEvent(action="install", bundle="acme-docs", verdict="verified", digest="sha256:" + "ef" * 32),
]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """PACKSEAL_HOME with a log of four events, appended through the API as an installer would."""
    directory = tmp_path / "packseal-home"
    log = AuditLog(directory / "audit.jsonl")
    for event in EVENTS:
        log.append(event)
    return directory


def audit(cli, home: Path, *args, **kwargs):
    return cli.packseal("audit", *args, env={"PACKSEAL_HOME": str(home), **kwargs.pop("env", {})}, **kwargs)


def lines(home: Path) -> list[bytes]:
    return (home / "audit.jsonl").read_bytes().split(b"\n")[:-1]


def write_lines(home: Path, content: list[bytes]) -> None:
    (home / "audit.jsonl").write_bytes(b"".join(line + b"\n" for line in content))


def test_verify_reads_the_log_under_packseal_home(cli, home):
    result = audit(cli, home, "verify")

    assert result.returncode == 0, cli.describe(result)
    assert f"VERIFIED audit log {home / 'audit.jsonl'}: 4 events chained, up to event 4" in result.stdout
    assert "reaches the head beside the log: event 4" in result.stdout
    assert "no head kept elsewhere was given (--head)" in result.stdout


def test_show_prints_each_event_escaped_and_the_verdict(cli, home):
    result = audit(cli, home, "show")

    assert result.returncode == 0, cli.describe(result)
    shown = result.stdout.splitlines()
    assert shown[0].startswith("#1  ") and "install  acme-tools  verified  sha256:" + "ab" * 32 in shown[0]
    assert "key_id=9A3C system=minisign" in shown[0] and "publisher=acme" in shown[0]
    assert "evil\\x1b[2Jpack" in shown[1] and "\x1b" not in result.stdout
    assert "reason=files: changed: bin/run" in shown[1]
    assert shown[4].startswith("VERIFIED audit log")


def test_show_json_lists_every_event_and_validates(cli, home):
    result = audit(cli, home, "show", "--json")

    assert result.returncode == 0, cli.describe(result)
    shown = json_output.parse(result.stdout)
    assert shown["verified"] is True and shown["events"] == 4 and shown["problem"] is None
    assert [entry["seq"] for entry in shown["entries"]] == [1, 2, 3, 4]
    first = shown["entries"][0]
    assert first["signers"] == [{"system": "minisign", "key_id": "9A3C"}]
    assert first["policy_digest"] == "sha256:" + "cd" * 32 and first["detail"]["commit"] == "1" * 40
    assert shown["head"] == {"seq": 4, "hash": shown["entries"][3]["hash"]}


def test_an_edited_line_is_refused_naming_it(cli, home):
    content = lines(home)
    content[1] = rfc8785.dumps({**json.loads(content[1]), "verdict": "verified"})
    write_lines(home, content)

    result = audit(cli, home, "verify")
    shown = audit(cli, home, "show", "--json")

    assert result.returncode == 1, cli.describe(result)
    assert result.stdout == ""
    assert result.stderr.startswith("packseal: error: ")
    assert "line 2: edited: event 2 is not what event 3" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert shown.returncode == 1, cli.describe(shown)
    assert json_output.parse(shown.stdout)["problem"] == {
        "line": 2,
        "kind": "edited",
        "detail": "event 2 is not what event 3 (line 3) chained to",
    }


def test_verify_json_names_a_removed_line(cli, home):
    write_lines(home, [line for number, line in enumerate(lines(home), 1) if number != 2])

    result = audit(cli, home, "verify", "--json")

    assert result.returncode == 1, cli.describe(result)
    verdict = json_output.parse(result.stdout)
    assert verdict["verified"] is False and verdict["events"] == 1
    assert verdict["problem"]["line"] == 2 and verdict["problem"]["kind"] == "removed"


def test_a_malformed_line_is_refused_with_its_number(cli, home):
    content = lines(home)
    content[2] = b'{"action": "install"}'
    write_lines(home, content)

    result = audit(cli, home, "verify")

    assert result.returncode == 1, cli.describe(result)
    assert "line 3: malformed: not an event (" in result.stderr and "Traceback" not in result.stderr


def test_a_missing_log_is_one_line_and_exit_1(cli, tmp_path):
    result = audit(cli, tmp_path / "nowhere", "verify")

    assert result.returncode == 1, cli.describe(result)
    assert "no audit log here" in result.stderr and len(result.stderr.splitlines()) == 1


def test_a_cut_tail_is_refused_against_a_signed_head_kept_elsewhere(cli, home, keys, tmp_path):
    head = tmp_path / "kept-elsewhere" / "audit.head"
    head.parent.mkdir()
    made = audit(cli, home, "head", "--out", head, "--minisign-key", keys.key)
    assert made.returncode == 0, cli.describe(made)
    stock = cli.minisign("-Vm", head, "-p", keys.pub)
    assert stock.returncode == 0, cli.describe(stock)
    assert "packseal audit-head sha256:" in stock.stdout

    write_lines(home, lines(home)[:2])
    (home / "audit.jsonl.head").unlink()
    without = audit(cli, home, "verify")
    refused = audit(cli, home, "verify", "--head", head, "--minisign-pubkey", keys.pub)

    assert without.returncode == 0, cli.describe(without)
    assert refused.returncode == 1, cli.describe(refused)
    assert "line 2: truncated: the log ends at event 2 (line 2), but the head" in refused.stderr
    assert "names event 4: events were cut off its end" in refused.stderr


def test_a_head_signed_by_another_key_is_refused(cli, home, keys, other_keys, tmp_path):
    head = tmp_path / "audit.head"
    made = audit(cli, home, "head", "--out", head, "--minisign-key", other_keys.key)
    assert made.returncode == 0, cli.describe(made)

    result = audit(cli, home, "verify", "--head", head, "--minisign-pubkey", keys.pub)

    assert result.returncode == 1, cli.describe(result)
    assert cli.names_key_id(result.stderr, other_keys.pub) and "not trusted" in result.stderr


def test_a_head_whose_signature_is_for_another_role_is_refused(cli, home, keys, tmp_path):
    head = tmp_path / "audit.head"
    assert audit(cli, home, "head", "--out", head).returncode == 0
    digest = json.loads(head.read_bytes())["hash"].removeprefix("sha256:")
    signed = cli.minisign("-Sm", head, "-s", keys.key, "-t", f"packseal file sha256:{digest}", "-W")
    assert signed.returncode == 0, cli.describe(signed)

    result = audit(cli, home, "verify", "--head", head, "--minisign-pubkey", keys.pub)

    assert result.returncode == 1, cli.describe(result)
    assert "signature is for a file, not a audit-head" in result.stderr


def test_an_unsigned_head_still_shows_a_cut_tail(cli, home, tmp_path):
    head = tmp_path / "audit.head"
    made = audit(cli, home, "head", "--out", head)
    assert made.returncode == 0 and "UNSIGNED" in made.stdout, cli.describe(made)
    write_lines(home, lines(home)[:3])

    result = audit(cli, home, "verify", "--head", head, "--json")

    assert result.returncode == 1, cli.describe(result)
    verdict = json_output.parse(result.stdout)
    assert verdict["problem"]["kind"] == "truncated"
    assert [h["source"] for h in verdict["heads"]] == [f"the unsigned head {head}", "the head beside the log"]


def test_no_head_is_written_for_a_log_that_does_not_verify(cli, home, tmp_path):
    content = lines(home)
    content[0], content[1] = content[1], content[0]
    write_lines(home, content)
    head = tmp_path / "audit.head"

    result = audit(cli, home, "head", "--out", head)

    assert result.returncode == 1, cli.describe(result)
    assert "line 1: reordered" in result.stderr
    assert not head.exists()


def test_a_pubkey_without_a_head_is_a_usage_error(cli, home, keys):
    result = audit(cli, home, "verify", "--minisign-pubkey", keys.pub)

    assert result.returncode == 2, cli.describe(result)
    assert "give the head with --head" in result.stderr
