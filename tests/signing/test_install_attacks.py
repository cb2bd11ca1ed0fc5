"""Attacks on `signing.install` from a review: crafted state on disk, shared state directories, hostile tar headers."""

import json
import os
import shutil
import tarfile
import time
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest
from installs import NEW_PACK, OLD_PACK, signed_pack, write_tree
from trees import snapshot

import signing.installer
from signing.errors import ArchiveError, OutputError
from signing.installer import install, read_installed

pytestmark = pytest.mark.usefixtures("packseal_home")  # no install here writes to the real HOME


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


def swap_staging_after_verification(monkeypatch, evil: Path) -> None:
    """What another user who can write the state directory does: swap the verified staging for their own copy."""
    verify = signing.installer.verify_bundle

    def verified_then_swapped(path: Path, *args, **kwargs):
        verdict = verify(path, *args, **kwargs)
        staging = path.parent.parent
        staging.rename(staging.with_name("moved-away"))
        shutil.copytree(evil, staging / "bundle" / path.name, symlinks=True)
        return verdict

    monkeypatch.setattr(signing.installer, "verify_bundle", verified_then_swapped)


@pytest.mark.parametrize("owner", ["group and others can write it", "another user owns it"])
def test_a_state_directory_another_user_could_write_is_refused(tmp_path, dest, key_pair, policy, monkeypatch, owner):
    """Staging is private (0700), but its parent is not if others can write it: they rename staging away after
    verification and put their own bundle where the landing takes it from."""
    state = dest / ".packseal-installs"
    state.mkdir()
    if owner == "another user owns it":
        if os.geteuid() != 0:
            pytest.skip("making a directory another user's needs root")
        os.chown(state, 65534, 65534)
        state.chmod(0o700)
        match = "owned by uid 65534"
    else:
        state.chmod(0o777)
        match = "writable by group or others"
    swap_staging_after_verification(monkeypatch, write_tree(tmp_path / "evil", {"README.md": b"evil\n"}))
    before = snapshot(dest)

    with pytest.raises(OutputError, match=match):
        install(signed_pack(tmp_path / "src" / "pack", OLD_PACK, key_pair), dest, policy)

    assert snapshot(dest) == before


def test_a_bundle_named_like_a_staging_directory_does_not_break_later_installs(tmp_path, dest, key_pair, policy):
    """Its record `stage-x.json` sits where leftover staging directories are looked for; it is a record, not one."""
    install(signed_pack(tmp_path / "one" / "stage-x", OLD_PACK, key_pair), dest, policy)

    install(signed_pack(tmp_path / "two" / "pack", OLD_PACK, key_pair), dest, policy)

    assert read_installed(dest, "stage-x") is not None and read_installed(dest, "pack") is not None
    assert sorted(os.listdir(dest / ".packseal-installs")) == ["pack.json", "stage-x.json"]


def pax_record(key: str, value: str) -> bytes:
    """One `length key=value` line of a pax header, its length counting itself."""
    line = f" {key}={value}\n"
    length = len(line) + 1
    while len(str(length)) + len(line) != length:
        length += 1
    return f"{length}{line}".encode()


def sparse_map_bomb(path: Path, kind: str, entries: int) -> Path:
    """A tar.gz whose one sparse member declares `entries` map entries, a few KiB compressed.

    `tarfile` reads a GNU sparse map into a list before the member is seen:
    from the member's data (pax format 1.0) or from extension blocks (the old
    GNU `S` type), with no bound, so a million entries cost ~200 MiB and 3 s.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    with open(path, "wb") as output:

        def write(data: bytes) -> None:
            output.write(compressor.compress(data + bytes(-len(data) % 512)))

        directory = tarfile.TarInfo("pack")
        directory.type = tarfile.DIRTYPE
        write(directory.tobuf(format=tarfile.USTAR_FORMAT))
        member = tarfile.TarInfo("pack/sparse")
        if kind == "pax 1.0":
            records = [("GNU.sparse.major", "1"), ("GNU.sparse.minor", "0"), ("GNU.sparse.realsize", "0")]
            header = b"".join(pax_record(key, value) for key, value in records)
            extended = tarfile.TarInfo("pack/PaxHeaders/sparse")
            extended.type, extended.size = tarfile.XHDTYPE, len(header)
            write(extended.tobuf(format=tarfile.USTAR_FORMAT) + header)
            write(member.tobuf(format=tarfile.USTAR_FORMAT))
            write(f"{entries}\n".encode() + b"1\n" * (2 * entries))
        else:
            member.type = tarfile.GNUTYPE_SPARSE
            block = bytearray(member.tobuf(format=tarfile.GNU_FORMAT))
            block[482] = 1  # isextended: extension blocks of 21 map entries follow
            block[148:156] = b" " * 8
            block[148:156] = b"%06o\0 " % sum(block)
            write(bytes(block))
            extension = bytearray((b"%011o\0" % 1) * 2 * 21 + bytes(8))
            extension[504] = 1
            for _ in range(entries // 21):
                write(bytes(extension))
        output.write(compressor.flush())
    return path


@pytest.mark.parametrize("kind", ["pax 1.0", "old GNU"])
def test_a_sparse_member_is_refused_before_its_map_is_read(tmp_path, dest, policy, kind):
    archive = sparse_map_bomb(tmp_path / "sparse.tar.gz", kind, 1_000_000)
    assert archive.stat().st_size < 128 * 1024
    started = time.monotonic()

    with pytest.raises(ArchiveError, match="GNU sparse member; refused"):
        install(archive, dest, policy)

    assert time.monotonic() - started < 2
    assert os.listdir(dest) == []


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA], ids=["bzip2", "lzma"])
def test_a_zip_member_zipfile_would_inflate_whole_is_refused_before_it_is_read(tmp_path, dest, policy, method):
    """`zipfile` bounds only deflate's output per read: a bzip2 or LZMA member's whole read is inflated at once.

    Measured before the fix: a 540-byte zip of 512 MiB bzip2 zeros grew the
    installer by 1 GiB before the ratio limit saw a byte; here 64 MiB.
    """
    archive = tmp_path / "bomb.zip"
    info = zipfile.ZipInfo("pack/zeros")
    info.compress_type = method
    with zipfile.ZipFile(archive, "w") as bomb:
        bomb.writestr(info, bytes(64 * 1024 * 1024))
    tracemalloc.start()
    try:
        with pytest.raises(ArchiveError, match=r"'pack/zeros': compressed with method 1[24]"):
            install(archive, dest, policy)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert peak < 16 * 1024 * 1024, f"peak {peak / 1024 / 1024:.0f} MiB"
    assert os.listdir(dest) == []
