"""`--max-bytes` and `--max-files` bound a directory or single-file source as they bound an archive.

Counted on what the copy writes, not on the sizes the source declares: a
sparse file's `st_size` says nothing of what copying it costs, and a file
can grow while it is copied. A refusal leaves the install directory as it
was, staging removed.
"""

import os
from pathlib import Path

import pytest
from installs import OLD_PACK, signed_pack, write_tree
from trees import snapshot

import signing.staging
from signing.archive import ArchiveLimits
from signing.errors import BundleError
from signing.installer import install
from signing.sign import sign_with_minisign

pytestmark = pytest.mark.usefixtures("packseal_home")  # no install here writes to the real HOME

MIB = 1024 * 1024
GIB = 1024 * MIB


@pytest.fixture
def installed_dest(tmp_path, dest, key_pair, policy) -> Path:
    """An install directory already holding a bundle, so that "unchanged" has something to compare."""
    install(signed_pack(tmp_path / "v1" / "other", OLD_PACK, key_pair), dest, policy)
    return dest


@pytest.fixture
def written(monkeypatch) -> list[int]:
    """The size each file written into staging reached, kept as the copy ends (even when it is refused)."""
    sizes: list[int] = []
    write_new_file = signing.staging.write_new_file

    def measured(target: Path, *args, **kwargs) -> int:
        try:
            return write_new_file(target, *args, **kwargs)
        finally:
            if target.exists():
                sizes.append(target.stat().st_size)

    monkeypatch.setattr(signing.staging, "write_new_file", measured)
    return sizes


def sparse(path: Path, size: int) -> Path:
    """A file of `size` bytes that takes almost no disk: every one of them reads as zero."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        file.truncate(size)
    return path


def leftovers(dest: Path) -> list[str]:
    return sorted(path.name for path in (dest / ".packseal-installs").glob("stage-*"))


def copied_bytes(root: Path) -> int:
    """What copying `root` writes: every regular file's bytes, `.packseal/` included."""
    return sum(
        os.lstat(os.path.join(directory, name)).st_size
        for directory, _, names in os.walk(root)
        for name in names
        if not os.path.islink(os.path.join(directory, name))
    )


def copied_entries(root: Path) -> int:
    """What copying `root` creates: the directory itself and every directory, link and file below it."""
    return 1 + sum(len(directories) + len(names) for _, directories, names in os.walk(root))


def test_a_sparse_file_in_a_directory_is_refused_at_the_byte_cap_having_written_at_most_that(
    tmp_path, installed_dest, key_pair, policy, written
):
    pack = signed_pack(tmp_path / "src" / "pack", OLD_PACK, key_pair)
    sparse(pack / "data" / "huge.bin", 2 * GIB)
    before = snapshot(installed_dest)

    with pytest.raises(BundleError) as refused:
        install(pack, installed_dest, policy, limits=ArchiveLimits(max_bytes=MIB))

    assert str(refused.value) == f"{pack}: more than {MIB} bytes to copy (--max-bytes); refused"
    assert sum(written) <= MIB
    assert snapshot(installed_dest) == before and leftovers(installed_dest) == []


def test_a_file_that_grows_while_it_is_copied_is_bounded_by_the_bytes_copied(
    tmp_path, installed_dest, key_pair, policy, monkeypatch, written
):
    """Its size when the copy began was under the cap: only counting what is written can stop it."""
    pack = signed_pack(tmp_path / "src" / "pack", OLD_PACK, key_pair)
    growing = pack / "grows.bin"
    growing.write_bytes(b"x" * 1024)
    write_new_file = signing.staging.write_new_file

    def grow_then_write(target: Path, *args, **kwargs) -> int:
        if target.name == growing.name:
            with growing.open("ab") as more:
                more.truncate(64 * MIB)
        return write_new_file(target, *args, **kwargs)

    monkeypatch.setattr(signing.staging, "write_new_file", grow_then_write)
    before = snapshot(installed_dest)

    with pytest.raises(BundleError, match=r"more than 1048576 bytes to copy \(--max-bytes\); refused"):
        install(pack, installed_dest, policy, limits=ArchiveLimits(max_bytes=MIB))

    assert sum(written) <= MIB
    assert snapshot(installed_dest) == before and leftovers(installed_dest) == []


def test_a_directory_with_more_entries_than_the_cap_is_refused(tmp_path, installed_dest, key_pair, policy, written):
    pack = signed_pack(tmp_path / "src" / "pack", {f"file-{index:02d}": b"x\n" for index in range(20)}, key_pair)
    before = snapshot(installed_dest)

    with pytest.raises(BundleError) as refused:
        install(pack, installed_dest, policy, limits=ArchiveLimits(max_files=10))

    assert str(refused.value) == f"{pack}: more than 10 files, links and directories to copy (--max-files); refused"
    assert len(written) < 10
    assert snapshot(installed_dest) == before and leftovers(installed_dest) == []


def test_a_single_file_over_the_byte_cap_is_refused(tmp_path, installed_dest, key_pair, policy, written):
    tool = sparse(tmp_path / "src" / "tool.bin", 2 * GIB)
    (tmp_path / "src" / "tool.bin.minisig").write_bytes(b"not read: the copy stops first\n")
    before = snapshot(installed_dest)

    with pytest.raises(BundleError) as refused:
        install(tool, installed_dest, policy, limits=ArchiveLimits(max_bytes=MIB))

    assert str(refused.value) == f"{tool}: more than {MIB} bytes to copy (--max-bytes); refused"
    assert sum(written) <= MIB
    assert snapshot(installed_dest) == before and leftovers(installed_dest) == []


def test_a_local_archive_over_the_byte_cap_is_refused_before_it_is_copied_whole(tmp_path, installed_dest, policy):
    """A single file whichever its name: the archive is copied into staging before it is extracted."""
    archive = sparse(tmp_path / "src" / "pack.tar.gz", 2 * GIB)
    before = snapshot(installed_dest)

    with pytest.raises(BundleError, match=r"pack\.tar\.gz: more than 1048576 bytes to copy \(--max-bytes\)"):
        install(archive, installed_dest, policy, limits=ArchiveLimits(max_bytes=MIB))

    assert snapshot(installed_dest) == before and leftovers(installed_dest) == []


def test_a_directory_exactly_at_both_caps_installs(tmp_path, dest, key_pair, policy):
    """Everything copied counts, `.packseal/` and the bundle's own directory too, as in an archive."""
    pack = signed_pack(tmp_path / "src" / "pack", OLD_PACK, key_pair)
    exact = ArchiveLimits(max_bytes=copied_bytes(pack), max_files=copied_entries(pack))

    install(pack, dest, policy, limits=exact)

    assert snapshot(dest / "pack") == snapshot(pack)
    for tighter in (ArchiveLimits(max_bytes=exact.max_bytes - 1), ArchiveLimits(max_files=exact.max_files - 1)):
        with pytest.raises(BundleError, match="to copy"):
            install(pack, dest, policy, limits=tighter)


def test_a_single_file_and_its_signature_exactly_at_both_caps_installs(tmp_path, dest, key_pair, policy):
    tool = write_tree(tmp_path / "src", {"tool.bin": b"\x7fELF tool"}) / "tool.bin"
    sign_with_minisign(tool, key_pair.secret_key)
    size = tool.stat().st_size + (tmp_path / "src" / "tool.bin.minisig").stat().st_size

    install(tool, dest, policy, limits=ArchiveLimits(max_bytes=size, max_files=2))

    assert (dest / "tool.bin").read_bytes() == tool.read_bytes()
    with pytest.raises(BundleError, match=r"more than 1 files, links and directories to copy"):
        install(tool, dest, policy, limits=ArchiveLimits(max_files=1))
