"""`signing.install`: what is verified is what lands, a refusal changes nothing, records and audit events tell."""

import json
import os
import stat
from pathlib import Path

import pytest
from installs import NEW_PACK, OLD_PACK, signed_pack, write_tree
from trees import snapshot

import signing.installer
import signing.landing
import signing.staging
from signing.errors import BundleError, InstallRefused, OutputError
from signing.installer import install, read_installed
from signing.sign import sign_with_minisign
from signing.trustfile import TrustFile
from signing.verify import verify_bundle

pytestmark = pytest.mark.usefixtures("packseal_home")  # no install here writes to the real HOME


def audit_actions(home: Path) -> list[tuple[str, str]]:
    log = home / "audit.jsonl"
    if not log.exists():
        return []
    events = [json.loads(line) for line in log.read_text().splitlines()]
    return [(event["action"], event["bundle"]) for event in events]


def test_a_directory_lands_exactly_as_verified_with_its_record(tmp_path, dest, key_pair, policy, packseal_home):
    pack = signed_pack(tmp_path / "src" / "pack", OLD_PACK, key_pair)

    installed = install(pack, dest, policy)

    assert snapshot(dest / "pack") == snapshot(pack)
    assert installed.path == dest / "pack" and installed.replaced is None
    assert (installed.files, installed.bytes) == (2, len(b"# pack v1\n") + len(b"#!/bin/sh\necho v1\n"))
    record = json.loads((dest / ".packseal-installs" / "pack.json").read_text())
    assert record["digest"] == installed.digest == verify_bundle(dest / "pack", policy).digest
    assert record["signers"] == [{"system": "minisign", "key_id": installed.signers[0].to_json()["key_id"]}]
    assert record["entries"] == ["pack"] and record["source"] == str(pack)
    assert stat.S_IMODE((dest / ".packseal-installs").stat().st_mode) == 0o700
    assert not list((dest / ".packseal-installs").glob("stage-*"))
    assert audit_actions(packseal_home) == [("install", "pack")]


def test_a_replacement_names_what_changed_and_leaves_only_the_new_bundle(tmp_path, dest, key_pair, policy):
    install(signed_pack(tmp_path / "v1" / "pack", OLD_PACK, key_pair), dest, policy)
    new = signed_pack(tmp_path / "v2" / "pack", NEW_PACK, key_pair)

    installed = install(new, dest, policy)

    assert snapshot(dest / "pack") == snapshot(new)
    assert installed.replaced is not None and set(installed.changes()) == {"digest"}
    assert installed.changes()["digest"] == (installed.replaced.digest, installed.digest)
    assert os.listdir(dest / ".packseal-installs") == ["pack.json"]
    assert read_installed(dest, "pack").digest == installed.digest


def test_a_refused_bundle_leaves_dest_byte_for_byte_unchanged(tmp_path, dest, key_pair, policy, packseal_home):
    install(signed_pack(tmp_path / "v1" / "pack", OLD_PACK, key_pair), dest, policy)
    tampered = signed_pack(tmp_path / "v2" / "pack", NEW_PACK, key_pair)
    (tampered / "lib" / "extra.txt").write_bytes(b"evil\n")
    before = snapshot(dest)

    with pytest.raises(InstallRefused) as refused:
        install(tampered, dest, policy)

    assert refused.value.verdict.refusal.name == "files"
    assert snapshot(dest) == before
    assert audit_actions(packseal_home)[-1] == ("install-refused", "pack")


@pytest.mark.parametrize("refusal", ["untrusted signer", "no such source"])
def test_a_refused_install_into_a_fresh_dest_leaves_it_as_it_was(tmp_path, dest, other_key_pair, policy, refusal):
    """Not even the state directory the install needed for its staging and records stays behind."""
    (dest / "kept.txt").write_bytes(b"the user's own\n")
    before = snapshot(dest)
    if refusal == "untrusted signer":
        source = signed_pack(tmp_path / "src" / "pack", OLD_PACK, other_key_pair)
    else:
        source = tmp_path / "src" / "pack"

    with pytest.raises((InstallRefused, BundleError)):
        install(source, dest, policy)

    assert snapshot(dest) == before


def test_a_refusal_keeps_a_state_directory_it_did_not_create(tmp_path, dest, other_key_pair, policy):
    (dest / ".packseal-installs").mkdir(mode=0o700)
    before = snapshot(dest)

    with pytest.raises(InstallRefused):
        install(signed_pack(tmp_path / "src" / "pack", OLD_PACK, other_key_pair), dest, policy)

    assert snapshot(dest) == before


def test_the_lock_file_of_earlier_versions_is_left_alone(tmp_path, dest, key_pair, other_key_pair, policy):
    """Before this version, the lock was `.packseal-installs/lock`: a state directory holding it is not empty."""
    (dest / ".packseal-installs").mkdir(mode=0o700)
    (dest / ".packseal-installs" / "lock").write_bytes(b"")
    before = snapshot(dest)

    with pytest.raises(InstallRefused):
        install(signed_pack(tmp_path / "x" / "pack", OLD_PACK, other_key_pair), dest, policy)
    assert snapshot(dest) == before
    install(signed_pack(tmp_path / "src" / "pack", OLD_PACK, key_pair), dest, policy)

    assert sorted(os.listdir(dest / ".packseal-installs")) == ["lock", "pack.json"]


def test_reading_install_records_creates_nothing(dest):
    assert read_installed(dest, "pack") is None
    assert os.listdir(dest) == []


def test_a_landing_writes_the_staged_data_before_the_first_rename_and_syncs_dest_after_the_last(
    tmp_path, dest, key_pair, policy, monkeypatch
):
    """A power cut after a rename must not leave a new name over content never written; nor lose the rename."""
    install(signed_pack(tmp_path / "v1" / "pack", OLD_PACK, key_pair), dest, policy)
    steps: list[tuple[str, Path]] = []

    def recorded(name, function):
        def step(*args):
            steps.append((name, Path(args[-1])))
            return function(*args)

        return step

    for name in ("_write_staged", "_exchange", "_rename", "_rename_noreplace", "fsync_directory"):
        monkeypatch.setattr(signing.landing, name, recorded(name, getattr(signing.landing, name)))
    install(signed_pack(tmp_path / "v2" / "pack", NEW_PACK, key_pair), dest, policy)

    moves = [index for index, (name, _) in enumerate(steps) if name != "fsync_directory"]
    assert steps[moves[0]][0] == "_write_staged" and steps[moves[0]][1].parent == dest / ".packseal-installs"
    assert len(moves) > 1, "no rename was seen"
    synced = {path for name, path in steps[moves[-1] + 1 :] if name == "fsync_directory"}
    assert synced == {dest, dest / ".packseal-installs"}


def test_a_failing_syncfs_refuses_before_anything_moves(tmp_path, dest, key_pair, policy, monkeypatch):
    install(signed_pack(tmp_path / "v1" / "pack", OLD_PACK, key_pair), dest, policy)
    before = snapshot(dest)
    moved: list[str] = []

    def failing(directory):
        raise OSError(5, "Input/output error", str(directory))

    monkeypatch.setattr(signing.landing, "_sync_filesystem", failing)
    for name in ("_exchange", "_rename", "_rename_noreplace"):
        monkeypatch.setattr(signing.landing, name, lambda *args, name=name: moved.append(name))
    with pytest.raises(OutputError, match="Input/output error"):
        install(signed_pack(tmp_path / "v2" / "pack", NEW_PACK, key_pair), dest, policy)

    assert moved == []
    assert snapshot(dest) == before


def test_a_directory_that_cannot_be_opened_to_fsync_has_its_filesystem_synced_after_the_last_rename(
    tmp_path, dest, key_pair, policy, monkeypatch
):
    """A DEST of mode 0300 cannot be opened, so not fsynced: its renames are written by a syncfs instead."""
    steps: list[tuple[str, Path]] = []
    fsync_directory = signing.landing.fsync_directory

    def unreadable_dest(directory):
        steps.append(("fsync_directory", Path(directory)))
        if Path(directory) == dest:
            raise PermissionError(13, "Permission denied", str(directory))
        fsync_directory(directory)

    def recorded(name, function):
        def step(*args):
            steps.append((name, Path(args[-1])))
            return function(*args)

        return step

    monkeypatch.setattr(signing.landing, "fsync_directory", unreadable_dest)
    for name in ("_rename_noreplace", "_sync_filesystem"):
        monkeypatch.setattr(signing.landing, name, recorded(name, getattr(signing.landing, name)))
    install(signed_pack(tmp_path / "src" / "pack", OLD_PACK, key_pair), dest, policy)

    last_rename = max(index for index, (name, _) in enumerate(steps) if name == "_rename_noreplace")
    after = steps[last_rename + 1 :]
    assert ("fsync_directory", dest) in after
    assert [name for name, _ in after][-1] == "_sync_filesystem"
    assert (dest / "pack").is_dir()


def test_a_directory_fsync_that_fails_after_the_last_rename_is_one_error_and_the_next_install_recovers(
    tmp_path, dest, key_pair, policy, monkeypatch
):
    """An I/O error making the renames durable is an `OutputError` (one line), not a traceback of a raw OSError."""
    install(signed_pack(tmp_path / "v1" / "pack", OLD_PACK, key_pair), dest, policy)
    fsync_directory = signing.landing.fsync_directory

    def failing(directory):
        if Path(directory) == dest:
            raise OSError(5, "Input/output error", str(directory))
        fsync_directory(directory)

    monkeypatch.setattr(signing.landing, "fsync_directory", failing)
    with pytest.raises(OutputError, match="cannot sync: Input/output error"):
        install(signed_pack(tmp_path / "v2" / "pack", NEW_PACK, key_pair), dest, policy)
    monkeypatch.undo()

    assert read_installed(dest, "pack") is not None
    assert os.listdir(dest / ".packseal-installs") == ["pack.json"]
    assert snapshot(dest / "pack") in (snapshot(tmp_path / "v1" / "pack"), snapshot(tmp_path / "v2" / "pack"))


def test_a_source_file_swapped_after_it_was_copied_cannot_reach_dest(tmp_path, dest, key_pair, policy, monkeypatch):
    """The old recipe's race: the source changes between the copy and the check. Only the private copy is checked."""
    pack = signed_pack(tmp_path / "src" / "pack", OLD_PACK, key_pair)
    verify = signing.installer.verify_bundle

    def attacker_wins_the_race(path, *args, **kwargs):
        (pack / "bin" / "run").write_bytes(b"#!/bin/sh\nrm -rf ~\n")
        return verify(path, *args, **kwargs)

    monkeypatch.setattr(signing.installer, "verify_bundle", attacker_wins_the_race)
    install(pack, dest, policy)

    assert (dest / "pack" / "bin" / "run").read_bytes() == b"#!/bin/sh\necho v1\n"
    assert verify_bundle(dest / "pack", policy).verified


def test_a_source_file_swapped_while_it_is_copied_is_refused(tmp_path, dest, key_pair, policy, monkeypatch):
    pack = signed_pack(tmp_path / "src" / "pack", OLD_PACK, key_pair)
    copy_file = signing.staging.copy_file

    def swap_then_copy(source: Path, target: Path, budget: signing.staging.CopyBudget) -> int:
        if source.name == "run":
            source.unlink()
            source.write_bytes(b"#!/bin/sh\nrm -rf ~\n")
        return copy_file(source, target, budget)

    monkeypatch.setattr(signing.staging, "copy_file", swap_then_copy)
    with pytest.raises(InstallRefused, match="at files: changed: bin/run"):
        install(pack, dest, policy)

    assert os.listdir(dest) == []


def test_a_single_file_lands_with_the_signature_it_was_verified_by(tmp_path, dest, key_pair, policy):
    tool = tmp_path / "src" / "tool.bin"
    tool.parent.mkdir()
    tool.write_bytes(b"\x7fELF tool")
    sign_with_minisign(tool, key_pair.secret_key)

    installed = install(tool, dest, policy)

    assert sorted(os.listdir(dest)) == [".packseal-installs", "tool.bin", "tool.bin.minisig"]
    assert (dest / "tool.bin.minisig").read_bytes() == (tmp_path / "src" / "tool.bin.minisig").read_bytes()
    assert installed.record is not None and json.loads(installed.record.read_text())["entries"] == [
        "tool.bin.minisig",
        "tool.bin",
    ]
    assert verify_bundle(dest / "tool.bin", policy).verified


def test_a_dry_run_verifies_and_writes_nothing(tmp_path, dest, key_pair, policy, packseal_home):
    pack = signed_pack(tmp_path / "src" / "pack", OLD_PACK, key_pair)
    seen = []

    installed = install(pack, dest, policy, dry_run=True, announce=seen.append)

    assert seen == [installed] and installed.record is None
    assert os.listdir(dest) == []
    assert not packseal_home.exists()


def test_an_entry_no_install_record_names_is_not_replaced(tmp_path, dest, key_pair, policy):
    write_tree(dest / "pack", {"mine.txt": b"the user's own files\n"})
    before = snapshot(dest / "pack")

    with pytest.raises(OutputError, match="no install record names it"):
        install(signed_pack(tmp_path / "src" / "pack", OLD_PACK, key_pair), dest, policy)

    assert snapshot(dest / "pack") == before
    assert os.listdir(dest) == ["pack"]


def test_a_state_directory_that_is_a_link_is_refused(tmp_path, dest, key_pair, policy):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (dest / ".packseal-installs").symlink_to(elsewhere)

    with pytest.raises(OutputError, match="symlink, not packseal's state directory"):
        install(signed_pack(tmp_path / "src" / "pack", OLD_PACK, key_pair), dest, policy)
    assert os.listdir(elsewhere) == [] and os.listdir(dest) == [".packseal-installs"]


def test_a_trust_policy_file_decides_and_its_digest_is_recorded(tmp_path, dest, key_pair, packseal_home):
    (tmp_path / "acme.pub").write_text(f"untrusted comment: acme\n{key_pair.public_key.to_base64().decode()}\n")
    policy_path = tmp_path / "trust.toml"
    policy_path.write_text('[[publisher]]\nname = "acme"\nbundles = ["pack"]\nminisign_keys = ["acme.pub"]\n')
    policy = TrustFile.load(policy_path)

    installed = install(signed_pack(tmp_path / "src" / "pack", OLD_PACK, key_pair), dest, policy)

    assert installed.publisher == "acme"
    record = json.loads(installed.record.read_text())
    assert record["policy_digest"] == policy.digest and str(policy_path) in record["method"]
    event = json.loads((packseal_home / "audit.jsonl").read_text().splitlines()[-1])
    assert (event["action"], event["policy_digest"]) == ("install", policy.digest)
    with pytest.raises(InstallRefused, match="at publisher"):
        install(signed_pack(tmp_path / "src" / "other", OLD_PACK, key_pair), dest, policy)
