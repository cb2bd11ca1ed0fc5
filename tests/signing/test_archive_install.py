"""Installing from `.tar.gz`, `.tgz` and `.zip`: a signed pack installs; a hostile archive is refused."""

import io
import os
import struct
import subprocess
import sys
import tarfile
import textwrap
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest
from installs import OLD_PACK, signed_pack
from trees import snapshot

import signing.archive
from signing.archive import ArchiveLimits
from signing.errors import ArchiveError
from signing.installer import install

pytestmark = pytest.mark.usefixtures("packseal_home")  # no install here writes to the real HOME

MIB = 1024 * 1024


def tar_member(
    archive: tarfile.TarFile, name: str, *, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = ""
) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size, info.mode = kind, link, len(data), 0o644
    archive.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def hostile_tar(path: Path, *members: dict) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        tar_member(archive, "pack/", kind=tarfile.DIRTYPE)
        tar_member(archive, "pack/README.md", data=b"# pack\n")
        for member in members:
            tar_member(archive, **member)
    return path


HOSTILE_TARS = {
    "traversal": ({"name": "pack/../../escaped.txt", "data": b"x"}, "'..'"),
    "absolute path": ({"name": "/tmp/escaped.txt", "data": b"x"}, "absolute path"),
    "symlink leaving the bundle": (
        {"name": "pack/evil", "kind": tarfile.SYMTYPE, "link": "../../outside"},
        "leaves the bundle",
    ),
    "hard link": ({"name": "pack/hard", "kind": tarfile.LNKTYPE, "link": "pack/README.md"}, "hard link"),
    "device": ({"name": "pack/disk", "kind": tarfile.BLKTYPE}, "device"),
    "FIFO": ({"name": "pack/pipe", "kind": tarfile.FIFOTYPE}, "FIFO"),
    "second top-level entry": ({"name": "other/file.txt", "data": b"x"}, "an archive holds one directory"),
    "file at the top level": ({"name": "loose.txt", "data": b"x"}, "an archive holds one directory"),
    "duplicate name": ({"name": "pack/README.md", "data": b"again"}, "appears twice"),
    "write below a file": ({"name": "pack/README.md/x", "data": b"x"}, "below a file"),
}


def zip_pack(pack: Path, path: Path) -> Path:
    """A zip of the directory `pack`, its symlinks stored as links."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in sorted(pack.rglob("*")):
            relative = f"pack/{member.relative_to(pack).as_posix()}"
            if member.is_symlink():
                info = zipfile.ZipInfo(relative)
                info.external_attr = (0o120777) << 16
                archive.writestr(info, os.readlink(member))
            elif member.is_file():
                archive.write(member, relative)
    return path


def test_a_signed_pack_installs_from_each_archive_format(tmp_path, dest, key_pair, policy):
    pack = signed_pack(tmp_path / "src" / "pack", OLD_PACK, key_pair)
    tgz, zipped = tmp_path / "pack-1.0.tgz", zip_pack(pack, tmp_path / "pack-1.0.zip")
    with tarfile.open(tgz, "w:gz") as archive:
        archive.add(pack, arcname="pack")

    for source in (tgz, zipped):
        installed = install(source, dest, policy)
        assert installed.name == "pack" and snapshot(dest / "pack") == snapshot(pack)


@pytest.mark.parametrize("attack", sorted(HOSTILE_TARS))
def test_a_hostile_tar_is_refused_and_dest_is_unchanged(tmp_path, dest, attack, policy, packseal_home):
    member, reason = HOSTILE_TARS[attack]
    archive = hostile_tar(tmp_path / "pack.tar.gz", member)
    (dest / "kept.txt").write_bytes(b"already here\n")
    before = snapshot(dest)

    with pytest.raises(ArchiveError, match=reason):
        install(archive, dest, policy)

    assert snapshot(dest) == before
    assert not (tmp_path / "escaped.txt").exists() and not Path("/tmp/escaped.txt").exists()
    assert '"install-refused"' in (packseal_home / "audit.jsonl").read_text()


def test_links_that_only_escape_once_resolved_on_disk_are_refused(tmp_path, dest, policy):
    """`a -> .` then `sub/b -> ../a/..`: each target stays inside lexically; `b` resolves to the bundle's parent."""
    archive = hostile_tar(
        tmp_path / "pack.tar.gz",
        {"name": "pack/a", "kind": tarfile.SYMTYPE, "link": "."},
        {"name": "pack/sub/", "kind": tarfile.DIRTYPE},
        {"name": "pack/sub/b", "kind": tarfile.SYMTYPE, "link": "../a/.."},
    )
    with pytest.raises(ArchiveError, match="'pack/sub/b': symlink resolves outside the bundle"):
        install(archive, dest, policy)
    assert os.listdir(dest) == []


def test_hostile_zip_members_are_refused(tmp_path, dest, policy):
    cases = {
        "../escaped.txt": ("x", 0o100644, "'..'"),
        "pack/link": ("../../outside", 0o120777, "leaves the bundle"),
        "pack/pipe": ("", 0o010644, "special file"),
    }
    for index, (name, (content, mode, reason)) in enumerate(cases.items()):
        path = tmp_path / f"hostile-{index}.zip"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("pack/README.md", "# pack\n")
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            archive.writestr(info, content)
        with pytest.raises(ArchiveError, match=reason):
            install(path, dest, policy)
        assert os.listdir(dest) == []


def test_a_10k_file_bomb_is_refused_at_the_member_limit(tmp_path, dest, policy):
    archive = tmp_path / "bomb.tar.gz"
    with tarfile.open(archive, "w:gz") as bomb:
        for index in range(10_001):
            tar_member(bomb, f"pack/{index:05d}")

    with pytest.raises(ArchiveError, match="more than 10000 members"):
        install(archive, dest, policy)
    assert os.listdir(dest) == []
    with pytest.raises(ArchiveError, match="more than 100 members"):
        install(archive, dest, policy, limits=ArchiveLimits(max_files=100))


_CENTRAL_RECORD = struct.Struct("<4s4B4HL2L5H2L")
_END_RECORD = struct.Struct("<4s4H2LH")


def central_record(name: bytes) -> bytes:
    """A central directory record of an empty regular file stored at offset 0."""
    fixed = _CENTRAL_RECORD.pack(
        b"PK\x01\x02", 20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0, len(name), 0, 0, 0, 0, 0o100644 << 16, 0
    )
    return fixed + name


def zip64_end(*, entries: int, size: int, offset: int, at: int) -> bytes:
    """The ZIP64 end record (at `at`), its locator and the end record, as a zip of over 65,535 members ends."""
    zip64 = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, size, offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, at, 1)
    return zip64 + locator + _END_RECORD.pack(b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)


def with_zip64_end(data: bytes) -> bytes:
    """The zip `data` (without an archive comment) ended by ZIP64 end records instead of its own end record."""
    _, _, _, _, entries, size, offset, _ = _END_RECORD.unpack(data[-_END_RECORD.size :])
    at = len(data) - _END_RECORD.size
    return data[:at] + zip64_end(entries=entries, size=size, offset=offset, at=at)


def test_a_zip_listing_too_many_members_is_refused_before_zipfile_parses_its_directory(tmp_path, dest, policy):
    """`ZipFile` parses the whole central directory into a `ZipInfo` per record before a member can be counted.

    Measured before the fix: these 200,000 records (11 MiB) grew the
    installer by 97 MiB before it refused them; millions cost gigabytes.
    The end record declares one entry: `zipfile` ignores that count, and so
    does the check.
    """
    records = 200_000
    directory = b"".join(central_record(b"pack/%07d" % index) for index in range(records))
    archive = tmp_path / "bomb.zip"
    archive.write_bytes(directory + zip64_end(entries=1, size=len(directory), offset=0, at=len(directory)))
    (dest / "kept.txt").write_bytes(b"already here\n")
    before = snapshot(dest)
    tracemalloc.start()
    try:
        with pytest.raises(
            ArchiveError, match=r"bomb.zip: central directory lists more than 10000 members \(--max-files\); refused$"
        ):
            install(archive, dest, policy)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert peak < 4 * MIB, f"peak {peak / MIB:.1f} MiB"
    assert snapshot(dest) == before
    assert os.listdir(dest) == ["kept.txt"]


@pytest.mark.parametrize("zip64", [False, True], ids=["zip", "zip64"])
def test_a_zip_after_a_prepended_stub_installs(tmp_path, dest, key_pair, policy, zip64):
    """A self-extracting archive is a program with a zip after it; its central directory offsets ignore the program."""
    pack = signed_pack(tmp_path / "src" / "pack", OLD_PACK, key_pair)
    data = zip_pack(pack, tmp_path / "pack.zip").read_bytes()
    (tmp_path / "pack.zip").write_bytes(b"#!/bin/sh\nexit 0\n" * 100 + (with_zip64_end(data) if zip64 else data))

    installed = install(tmp_path / "pack.zip", dest, policy)

    assert installed.name == "pack" and snapshot(dest / "pack") == snapshot(pack)


def garbled_directories() -> dict[str, tuple[bytes, str]]:
    """Zips whose central directory `ZipFile` could not walk, and the refusal each gets."""
    record = central_record(b"pack/file")
    directory = record * 3
    return {
        "truncated record": (
            directory + record[:20] + zip64_end(entries=4, size=len(directory) + 20, offset=0, at=len(directory) + 20),
            "central directory truncated in record 4",
        ),
        "size past the start": (
            directory + _END_RECORD.pack(b"PK\x05\x06", 0, 0, 3, 3, len(directory) + 1, 0, 0),
            "central directory larger than the archive before it",
        ),
        "record without its signature": (
            b"x" * 10 + directory + _END_RECORD.pack(b"PK\x05\x06", 0, 0, 3, 3, len(directory) + 10, 0, 0),
            "central directory record 1 has no record signature",
        ),
        "no end record": (directory, "no end of central directory record"),
        # `_EndRecData` seeks before the file's start for the ZIP64 end record its locator promises: an OSError
        "zip64 locator at the start": (
            struct.pack("<4sLQL", b"PK\x06\x07", 0, 0, 1) + _END_RECORD.pack(b"PK\x05\x06", 0, 0, 0, 0, 0, 0, 0),
            "no end of central directory record",
        ),
    }


@pytest.mark.parametrize("case", sorted(garbled_directories()))
def test_a_garbled_central_directory_is_refused_in_one_line(tmp_path, dest, policy, case):
    data, reason = garbled_directories()[case]
    archive = tmp_path / "garbled.zip"
    archive.write_bytes(data)

    with pytest.raises(ArchiveError, match=rf"garbled.zip: not a readable archive \({reason}\)$"):
        install(archive, dest, policy)
    assert os.listdir(dest) == []


def test_a_zip_parsed_other_than_counted_is_refused(tmp_path, dest, key_pair, policy, monkeypatch):
    """Should `ZipFile` ever walk its directory otherwise than the count did, the archive is refused, not trusted."""
    archive = zip_pack(signed_pack(tmp_path / "src" / "pack", OLD_PACK, key_pair), tmp_path / "pack.zip")
    monkeypatch.setattr(signing.archive, "_central_directory_records", lambda stream, limit: 1)

    with pytest.raises(ArchiveError, match=r"central directory read as \d+ records, counted as 1\)$"):
        install(archive, dest, policy)
    assert os.listdir(dest) == []


def test_an_extended_tar_header_is_refused_before_it_is_read_whole(tmp_path, dest, policy):
    archive = tmp_path / "pax.tar.gz"
    with tarfile.open(archive, "w:gz", format=tarfile.PAX_FORMAT) as bomb:
        info = tarfile.TarInfo("pack/file")
        info.pax_headers = {"comment": "x" * (128 * 1024)}
        bomb.addfile(info, io.BytesIO(b""))

    with pytest.raises(ArchiveError, match="extended header is over the 65536 byte limit"):
        install(archive, dest, policy)


def gzip_of_zeros(path: Path, size: int) -> Path:
    """A tar.gz holding one member of `size` (a whole number of MiB) zero bytes: one gzip stream, as a bomb is.

    Deflating a GiB costs seconds (6 s at level 9). After a full flush zlib
    starts afresh, so each MiB of zeros deflates to the same kilobyte: it
    is deflated once and written `size` / 1 MiB times, and the trailer
    zlib wrote for one MiB is given the CRC-32 and length of the whole.
    """
    header = tarfile.TarInfo("pack/zeros")
    header.size = size
    start, chunk, end = header.tobuf(format=tarfile.GNU_FORMAT), bytes(MIB), bytes(1024)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    deflated_start = compressor.compress(start) + compressor.flush(zlib.Z_FULL_FLUSH)
    deflated_chunk = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    deflated_end = compressor.compress(end) + compressor.flush()
    crc = zlib.crc32(start)
    for _ in range(size // MIB):
        crc = zlib.crc32(chunk, crc)
    trailer = struct.pack("<II", zlib.crc32(end, crc), (len(start) + size + len(end)) % 2**32)
    with open(path, "wb") as output:
        output.write(deflated_start)
        for _ in range(size // MIB):
            output.write(deflated_chunk)
        output.write(deflated_end[: -len(trailer)] + trailer)
    return path


def zip_of_zeros(path: Path, size: int) -> Path:
    info = zipfile.ZipInfo("pack/zeros")
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w") as archive, archive.open(info, "w", force_zip64=True) as member:
        chunk = bytes(MIB)
        for _ in range(size // MIB):
            member.write(chunk)
    return path


@pytest.fixture(scope="module")
def bombs(tmp_path_factory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("bombs")
    return {
        "tar.gz": gzip_of_zeros(directory / "bomb.tar.gz", 1024 * MIB),
        "zip": zip_of_zeros(directory / "bomb.zip", 1024 * MIB),
    }


_MEASURE = textwrap.dedent(
    """
    import resource, sys, time
    from pathlib import Path
    import minisign
    from signing.backends.minisign import MinisignKeyring
    from signing.errors import ArchiveError
    from signing.installer import install
    from signing.policy import TrustPolicy
    policy = TrustPolicy((MinisignKeyring([minisign.KeyPair.generate().public_key]),))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    try:
        install(Path(sys.argv[1]), Path(sys.argv[2]), policy)
    except ArchiveError as err:
        print(err, file=sys.stderr)
    print(time.monotonic() - start, base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_a_1_gib_expansion_bomb_is_refused_quickly_in_bounded_memory(tmp_path, dest, bombs, kind):
    """Measured in a child process: its peak RSS may grow by at most 16 MiB (about 5 measured) over its size before.

    `tarfile`'s own "r|gz" grew it by 40 MiB: it inflates each 10 KiB record whole.
    """
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(bombs[kind]), str(dest)],
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=120,
        check=True,
    )
    seconds, base_kib, peak_kib = (float(value) for value in result.stdout.split())

    assert "refused as a possible bomb" in result.stderr and "--max-ratio" in result.stderr
    assert peak_kib - base_kib < 16 * 1024, f"peak RSS grew by {(peak_kib - base_kib) / 1024:.0f} MiB"
    assert seconds < 10, f"took {seconds:.1f} s"
    assert os.listdir(dest) == []


def test_a_zip_name_flagged_utf8_that_is_not_is_refused_in_one_line(tmp_path, dest, policy):
    """`ZipFile` decodes a name flagged UTF-8 strictly: its `UnicodeDecodeError` is a refusal, not a traceback."""
    written = io.BytesIO()
    with zipfile.ZipFile(written, "w") as archive:
        archive.writestr("pack/caf\u00e9", b"")  # a name beyond ASCII: written as UTF-8, flagged so
    archive_path = tmp_path / "flagged.zip"
    archive_path.write_bytes(written.getvalue().replace("\u00e9".encode(), b"\xc3\x28"))  # no longer UTF-8

    with pytest.raises(ArchiveError, match=r"flagged.zip: not a readable archive \(.*utf-8.*\)$"):
        install(archive_path, dest, policy)
