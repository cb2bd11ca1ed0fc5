"""Walking a bundle on disk into its manifest, and refusing what cannot be installed safely."""

import hashlib
import os
import socket
from pathlib import Path

import pytest
from deep_tree import make_chain, remove_tree
from unprivileged import run_python_unprivileged

from attest.manifest import FileEntry, SymlinkEntry
from signing.bundle import directory_manifest
from signing.digest import file_digest
from signing.errors import BundleError
from signing.files import read_regular_file
from signing.sign import sign_with_minisign
from signing.verify import verify_bundle

NFC_E = "\u00e9"
NFD_E = "e\u0301"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_manifest_of_a_real_tree(tmp_path, make_tree):
    root = make_tree(
        tmp_path / "b",
        {
            "top.txt": b"top",
            "a/b/c/deep.bin": b"\x00" * 10,
            "bin/tool": (b"#!/bin/sh\n", 0o755),
            "bin/owner-only-exec": (b"x", 0o744),
            "bin/others-only-exec": (b"o", 0o601),
            "bin/world-writable": (b"w", 0o646),
            "links/to-file": "../top.txt",
            "links/to-dir": "../a/b",
            "dangling": "not/there",
        },
    )
    assert directory_manifest(root).entries == (
        FileEntry("a/b/c/deep.bin", _sha(b"\x00" * 10), 10, False),
        FileEntry("bin/others-only-exec", _sha(b"o"), 1, True),
        FileEntry("bin/owner-only-exec", _sha(b"x"), 1, True),
        FileEntry("bin/tool", _sha(b"#!/bin/sh\n"), 10, True),
        FileEntry("bin/world-writable", _sha(b"w"), 1, False),
        SymlinkEntry("dangling", "not/there"),
        SymlinkEntry("links/to-dir", "../a/b"),
        SymlinkEntry("links/to-file", "../top.txt"),
        FileEntry("top.txt", _sha(b"top"), 3, False),
    )


def test_a_link_to_a_directory_is_recorded_not_followed(tmp_path, make_tree):
    root = make_tree(tmp_path / "b", {"d/f": b"x", "dl": "d"})
    paths = [entry.path for entry in directory_manifest(root).entries]
    assert paths == ["d/f", "dl"]


def test_signature_dir_is_excluded_only_at_the_root(tmp_path, make_tree):
    """ARCHITECTURE.md: `<bundle>/.packseal/` is never part of the manifest; a nested one is content."""
    root = make_tree(tmp_path / "b", {".packseal/manifest.json": b"{}", "sub/.packseal/x": b"y", "f": b""})
    assert [entry.path for entry in directory_manifest(root).entries] == ["f", "sub/.packseal/x"]


def test_names_are_recorded_byte_for_byte(tmp_path, make_tree):
    root = make_tree(tmp_path / "b", {f"caf{NFC_E}/x": b"1"})
    assert [entry.path.encode() for entry in directory_manifest(root).entries] == [f"caf{NFC_E}/x".encode()]


@pytest.mark.parametrize("name", [f"caf{NFD_E}/x", f"d/caf{NFD_E}"], ids=["directory", "file"])
def test_a_name_not_in_nfc_on_disk_is_refused(tmp_path, make_tree, name):
    """Issue 9: the walk recorded names in NFC, so a file renamed to its NFD spelling still verified."""
    root = make_tree(tmp_path / "b", {name: b"1"})
    with pytest.raises(BundleError, match="not in Unicode NFC") as refusal:
        directory_manifest(root)
    assert f"caf{NFD_E}" in str(refusal.value)


def test_a_signed_name_renamed_to_its_nfd_spelling_is_refused(tmp_path, make_tree, key_pair, policy):
    root = make_tree(tmp_path / "b", {f"caf{NFC_E}.txt": b"1", "other": b"2"})
    sign_with_minisign(root, key_pair.secret_key, trusted_comment="test pack")
    assert verify_bundle(root, policy).verified
    (root / f"caf{NFC_E}.txt").rename(root / f"caf{NFD_E}.txt")
    verdict = verify_bundle(root, policy)
    assert not verdict.verified
    assert verdict.refusal.name == "files"
    assert f"caf{NFD_E}.txt" in verdict.refusal.detail and "not in Unicode NFC" in verdict.refusal.detail


def test_manifest_of_an_empty_directory_is_empty(tmp_path):
    assert directory_manifest(tmp_path).entries == ()


def test_a_tree_500_directories_deep_is_walked(tmp_path):
    """Issue 9: the recursive walk died with RecursionError at about 500 levels."""
    make_chain(tmp_path / "b", 500, leaf_file=b"bottom")
    try:
        assert directory_manifest(tmp_path / "b").entries == (
            FileEntry("d/" * 500 + "leaf", _sha(b"bottom"), 6, False),
        )
    finally:
        remove_tree(tmp_path / "b")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"l": "/etc/passwd"}, "absolute"),
        ({"l": "../outside"}, "leaves the bundle"),
        ({"d/l": "../../outside"}, "leaves the bundle"),
        ({".packseal/manifest.json": b"{}", "l": ".packseal/manifest.json"}, "points into .packseal/"),
        ({".packseal/x": b"", "l": ".packseal"}, "points into .packseal/"),
        # Lexically inside, but the chain resolves out: sub/up -> the root, so sub/up/.. is its parent.
        ({"sub/up": "..", "e": "sub/up/.."}, "resolves outside the bundle"),
        # Lexically not .packseal, but resolves into it through a link to the root.
        ({".packseal/x": b"", "self": ".", "l": "self/.packseal"}, "resolves into .packseal/"),
        ({"A.txt": b"1", "a.txt": b"2"}, "collide after case-folding"),
        ({"Docs/a": b"1", "docs/b": b"2"}, "collide after case-folding"),
        ({NFC_E: b"1", NFD_E: b"2"}, f"'{NFD_E}': path is not in Unicode NFC"),
        ({f"{NFC_E}/a": b"1", f"{NFD_E}/b": b"2"}, f"'{NFD_E}/b': path is not in Unicode NFC"),
    ],
    ids=[
        "absolute link",
        "link via ..",
        "nested link via ..",
        "link into .packseal",
        "link to .packseal",
        "link chain escapes",
        "link chain into .packseal",
        "case fold",
        "case fold of parents",
        "NFC-equal files",
        "NFC-equal directories",
    ],
)
def test_directory_manifest_refuses(tmp_path, make_tree, spec, message):
    root = make_tree(tmp_path / "b", spec)
    with pytest.raises(BundleError, match=message):
        directory_manifest(root)


def _fifo(root: Path) -> None:
    os.mkfifo(root / "pipe")


def _socket(root: Path) -> None:
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(root / "sock"))


@pytest.mark.parametrize(("make_special", "message"), [(_fifo, "FIFO"), (_socket, "socket")])
def test_special_files_are_refused(tmp_path, monkeypatch, make_special, message):
    monkeypatch.chdir(tmp_path)  # keeps the socket path under the AF_UNIX length limit
    root = Path("b")
    root.mkdir()
    make_special(root)
    with pytest.raises(BundleError, match=f"{message} cannot be part of a bundle"):
        directory_manifest(root)


def test_a_file_name_that_is_not_utf8_is_refused(tmp_path):
    os.close(os.open(os.fsencode(tmp_path) + b"/bad\xff", os.O_CREAT | os.O_WRONLY, 0o644))
    with pytest.raises(BundleError, match="not valid UTF-8"):
        directory_manifest(tmp_path)


def test_a_root_that_is_not_a_directory_is_refused(tmp_path):
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(BundleError, match="not a directory"):
        directory_manifest(tmp_path / "f")


@pytest.mark.parametrize("unreadable", ["secret.txt", "locked"])
def test_an_unreadable_file_or_directory_is_refused(tmp_path, make_tree, unreadable):
    """Run where file modes bind (dropping root's overrides), so the refusal is really exercised."""
    root = make_tree(tmp_path / "b", {"secret.txt": b"s", "locked/x": b"x"})
    (root / unreadable).chmod(0)
    result = run_python_unprivileged(
        f"""
        from pathlib import Path
        from signing.bundle import directory_manifest
        from signing.errors import BundleError
        try:
            directory_manifest(Path({str(root)!r}))
        except BundleError as err:
            print("refused:", err)
        else:
            print("accepted")
        """
    )
    (root / unreadable).chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("refused:")
    assert "Permission denied" in result.stdout
    assert unreadable in result.stdout


# --- single files --------------------------------------------------------------


def test_file_digest_of_a_regular_file(tmp_path):
    (tmp_path / "f").write_bytes(b"content")
    digest = file_digest(tmp_path / "f")
    assert (digest.sha256, digest.size) == (_sha(b"content"), 7)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: os.symlink("target", p), "symlink, not a regular file"),
        (os.mkfifo, "FIFO, not a regular file"),
        (os.mkdir, "directory, not a regular file"),
        (lambda p: None, "missing"),
    ],
    ids=["symlink", "FIFO", "directory", "missing"],
)
def test_file_digest_refuses_anything_but_a_regular_file(tmp_path, make, message):
    (tmp_path / "target").write_bytes(b"x")
    make(tmp_path / "f")
    with pytest.raises(BundleError, match=message):
        file_digest(tmp_path / "f")


@pytest.mark.parametrize("size", [0, 10, 11])
def test_read_regular_file_up_to_its_limit(tmp_path, size):
    (tmp_path / "f").write_bytes(b"x" * size)
    if size > 10:
        with pytest.raises(BundleError, match=f"{size} bytes is over the 10 byte limit"):
            read_regular_file(tmp_path / "f", 10)
    else:
        assert read_regular_file(tmp_path / "f", 10) == b"x" * size


@pytest.mark.parametrize(
    ("make", "message"),
    [(lambda p: os.symlink("target", p), "symlink"), (os.mkfifo, "FIFO"), (lambda p: None, "missing")],
    ids=["symlink", "FIFO", "missing"],
)
def test_read_regular_file_refuses(tmp_path, make, message):
    (tmp_path / "target").write_bytes(b"x")
    make(tmp_path / "f")
    with pytest.raises(BundleError, match=message):
        read_regular_file(tmp_path / "f", 10)


def test_read_regular_file_refuses_an_unreadable_file_in_one_line(tmp_path):
    """Issue 9, section 10: without the OSError guard, EACCES escaped as a PermissionError."""
    (tmp_path / "f").write_bytes(b"secret")
    (tmp_path / "f").chmod(0)
    result = run_python_unprivileged(
        f"""
        from pathlib import Path
        from signing.files import read_regular_file
        from signing.errors import BundleError
        try:
            read_regular_file(Path({str(tmp_path / "f")!r}), 10)
        except BundleError as err:
            print("refused:", err)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"refused: {tmp_path / 'f'}: Permission denied\n"


def test_read_regular_file_refuses_a_file_longer_than_its_size_said(tmp_path):
    """procfs says 0 bytes and serves more, as a file growing after `fstat` would: refused, not cut at limit + 1."""
    with pytest.raises(BundleError, match="/proc/self/status: over the 10 byte limit"):
        read_regular_file(Path("/proc/self/status"), 10)


def test_read_regular_file_follows_a_link_only_when_asked(tmp_path):
    (tmp_path / "target").write_bytes(b"key")
    os.symlink("target", tmp_path / "link")
    assert read_regular_file(tmp_path / "link", 10, follow_symlinks=True) == b"key"
    with pytest.raises(BundleError, match="symlink"):
        read_regular_file(tmp_path / "link", 10)
