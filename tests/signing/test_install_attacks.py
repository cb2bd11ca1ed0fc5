"""Attacks on `signing.install` from a review: crafted state on disk, shared state directories, hostile tar headers."""

import json
from pathlib import Path

import pytest
from installs import NEW_PACK, OLD_PACK, signed_pack, write_tree
from trees import snapshot

from signing.errors import OutputError
from signing.installer import install, read_installed


@pytest.fixture(autouse=True)
def packseal_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("PACKSEAL_HOME", str(home))
    return home


@pytest.fixture
def dest(tmp_path) -> Path:
    path = tmp_path / "plugins"
    path.mkdir()
    return path


@pytest.fixture
def victim(tmp_path) -> Path:
    """A directory beside the install directory that no install may touch."""
    return write_tree(tmp_path / "victim", {"precious.txt": b"keep me\n"})


@pytest.mark.parametrize("entry", ["../victim", "/absolute/victim", "sub/pack", ".packseal-installs", ""])
def test_a_record_naming_an_entry_outside_dest_is_refused(tmp_path, dest, key_pair, policy, victim, entry):
    """Whoever can write a record must not be able to make the next install move or remove anything else."""
    install(signed_pack(tmp_path / "v1" / "pack", OLD_PACK, key_pair), dest, policy)
    record_path = dest / ".packseal-installs" / "pack.json"
    record = json.loads(record_path.read_text())
    record["entries"] = ["pack", entry.replace("/absolute/victim", str(victim))]
    record_path.write_text(json.dumps(record))
    before = snapshot(dest)

    with pytest.raises(OutputError, match=r"pack\.json: not an install record \(entry .* is not one name"):
        install(signed_pack(tmp_path / "v2" / "pack", NEW_PACK, key_pair), dest, policy)

    assert (victim / "precious.txt").read_bytes() == b"keep me\n"
    assert snapshot(dest) == before


@pytest.mark.parametrize(
    ("staged", "name"),
    [(None, "../victim"), ("../../../victim", "pack"), (None, "/absolute/victim"), ("bundle/pack", "../pack")],
)
def test_a_landing_journal_naming_a_path_outside_dest_or_staging_is_refused(
    tmp_path, dest, key_pair, policy, victim, staged, name
):
    """A journal is read back by the next installer's recovery: a crafted one must move nothing anywhere."""
    install(signed_pack(tmp_path / "v1" / "pack", OLD_PACK, key_pair), dest, policy)
    staging = dest / ".packseal-installs" / "stage-crafted"
    (staging / "old").mkdir(parents=True)
    items = [
        {"staged": staged, "name": name.replace("/absolute/victim", str(victim)), "inode": None},
        {"staged": None, "name": "not-there", "inode": None},
    ]
    (staging / "landing.json").write_text(json.dumps({"items": items}))
    before = snapshot(dest)

    with pytest.raises(OutputError, match=r"unreadable landing journal .* is not a relative path"):
        read_installed(dest, "pack")

    assert (victim / "precious.txt").read_bytes() == b"keep me\n"
    assert snapshot(dest) == before
