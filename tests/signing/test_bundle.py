"""Walking a bundle on disk into its manifest, and refusing what cannot be installed safely."""

import ctypes
import hashlib
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from attest.manifest import FileEntry, SymlinkEntry
from signing.bundle import directory_manifest
from signing.digest import file_digest
from signing.files import read_regular_file
from signing.errors import BundleError

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
            "links/to-file": "../top.txt",
            "links/to-dir": "../a/b",
            "dangling": "not/there",
        },
    )
    assert directory_manifest(root).entries == (
        FileEntry("a/b/c/deep.bin", _sha(b"\x00" * 10), 10, False),
        FileEntry("bin/owner-only-exec", _sha(b"x"), 1, True),
        FileEntry("bin/tool", _sha(b"#!/bin/sh\n"), 10, True),
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


def test_names_are_recorded_in_nfc(tmp_path, make_tree):
    root = make_tree(tmp_path / "b", {f"caf{NFD_E}/x": b"1"})
    assert [entry.path for entry in directory_manifest(root).entries] == [f"caf{NFC_E}/x"]


def test_manifest_of_an_empty_directory_is_empty(tmp_path):
    assert directory_manifest(tmp_path).entries == ()


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
        ({NFC_E: b"1", NFD_E: b"2"}, "same name after NFC"),
        ({f"{NFC_E}/a": b"1", f"{NFD_E}/b": b"2"}, "same name after NFC"),
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


_DROP_FILE_ACCESS_OVERRIDES = 1, 2  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH


def _obey_file_modes() -> None:
    """In the child, before exec: make root obey file modes like any other user."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in _DROP_FILE_ACCESS_OVERRIDES:
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@pytest.mark.parametrize("unreadable", ["secret.txt", "locked"])
def test_an_unreadable_file_or_directory_is_refused(tmp_path, make_tree, unreadable):
    """Run where file modes bind (dropping root's overrides), so the refusal is really exercised."""
    root = make_tree(tmp_path / "b", {"secret.txt": b"s", "locked/x": b"x"})
    (root / unreadable).chmod(0)
    script = textwrap.dedent(
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
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, preexec_fn=_obey_file_modes, check=True
    )
    (root / unreadable).chmod(0o755)
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
