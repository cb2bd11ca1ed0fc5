"""Writers that either complete or leave the disk exactly as it was."""

import os
import stat
from pathlib import Path

import pytest

from signing.errors import OutputError
from signing.files import create_exclusively, replace_together


@pytest.fixture(autouse=True)
def usual_umask():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _snapshot(root: Path) -> dict[str, object]:
    """Every path below root: a file's bytes and mode, a directory, or a link target."""
    found: dict[str, object] = {}
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root))
        if path.is_symlink():
            found[relative] = ("link", os.readlink(path))
        elif path.is_dir():
            found[relative] = "dir"
        else:
            found[relative] = (path.read_bytes(), stat.S_IMODE(path.stat().st_mode))
    return found


# --- create_exclusively --------------------------------------------------------


def test_create_exclusively_writes_bytes_and_modes(tmp_path):
    create_exclusively({tmp_path / "s.key": (b"secret", 0o600), tmp_path / "s.pub": (b"public", 0o644)})
    assert _snapshot(tmp_path) == {"s.key": (b"secret", 0o600), "s.pub": (b"public", 0o644)}


@pytest.mark.parametrize("existing", ["s.key", "s.pub"])
@pytest.mark.parametrize(
    "make",
    [lambda p: p.write_bytes(b"old"), lambda p: p.mkdir(), lambda p: os.symlink("nowhere", p)],
    ids=["file", "directory", "dangling link"],
)
def test_create_exclusively_refuses_an_existing_path_and_writes_nothing(tmp_path, existing, make):
    make(tmp_path / existing)
    before = _snapshot(tmp_path)
    with pytest.raises(OutputError, match="already exists"):
        create_exclusively({tmp_path / "s.key": (b"secret", 0o600), tmp_path / "s.pub": (b"public", 0o644)})
    assert _snapshot(tmp_path) == before


def test_create_exclusively_removes_what_it_wrote_when_a_later_file_fails(tmp_path):
    with pytest.raises(OutputError, match="cannot write"):
        create_exclusively({tmp_path / "s.key": (b"secret", 0o600), tmp_path / "missing/s.pub": (b"p", 0o644)})
    assert _snapshot(tmp_path) == {}


# --- replace_together ------------------------------------------------------------


def test_replace_together_replaces_and_creates(tmp_path):
    (tmp_path / "a").write_bytes(b"old")
    replace_together({tmp_path / "a": b"new", tmp_path / "new/dir/b": b"b"})
    assert _snapshot(tmp_path) == {
        "a": (b"new", 0o644),
        "new": "dir",
        "new/dir": "dir",
        "new/dir/b": (b"b", 0o644),
    }


def _second_is_a_directory(root: Path) -> dict[Path, bytes]:
    (root / "a").write_bytes(b"old a")
    (root / "b").mkdir()
    return {root / "a": b"new a", root / "b": b"new b"}


def _first_is_new(root: Path) -> dict[Path, bytes]:
    (root / "b").mkdir()
    return {root / "a": b"new a", root / "b": b"new b"}


def _first_in_new_directories(root: Path) -> dict[Path, bytes]:
    (root / "b").mkdir()
    return {root / "new/dir/a": b"new a", root / "b": b"new b"}


def _parent_blocked_by_a_file(root: Path) -> dict[Path, bytes]:
    (root / "a").write_bytes(b"old a")
    (root / "file").write_bytes(b"in the way")
    return {root / "a": b"new a", root / "new/x": b"x", root / "file/sub/b": b"new b"}


@pytest.mark.parametrize(
    "prepare",
    [_second_is_a_directory, _first_is_new, _first_in_new_directories, _parent_blocked_by_a_file],
    ids=["second is a directory", "first is new", "first in new directories", "parent blocked by a file"],
)
def test_replace_together_is_all_or_nothing(tmp_path, prepare):
    files = prepare(tmp_path)
    before = _snapshot(tmp_path)
    with pytest.raises(OutputError):
        replace_together(files)
    assert _snapshot(tmp_path) == before


def test_replace_together_failure_names_the_destination(tmp_path):
    files = _second_is_a_directory(tmp_path)
    with pytest.raises(OutputError, match=f"^{tmp_path / 'b'}: "):
        replace_together(files)


def test_replace_together_removes_what_it_is_told_to(tmp_path):
    (tmp_path / "a").write_bytes(b"old a")
    (tmp_path / "stale").write_bytes(b"a signature over old bytes")
    replace_together({tmp_path / "a": b"new a"}, remove=[tmp_path / "stale", tmp_path / "absent"])
    assert _snapshot(tmp_path) == {"a": (b"new a", 0o644)}


def test_replace_together_never_removes_what_it_wrote(tmp_path):
    replace_together({tmp_path / "a": b"new a"}, remove=[tmp_path / "a"])
    assert _snapshot(tmp_path) == {"a": (b"new a", 0o644)}


def test_replace_together_restores_every_file_when_a_removal_fails(tmp_path):
    """A stale signature that cannot be removed (a directory) undoes the new Statement too."""
    (tmp_path / "a").write_bytes(b"old a")
    (tmp_path / "stale").write_bytes(b"old signature")
    (tmp_path / "blocked").mkdir()
    before = _snapshot(tmp_path)
    with pytest.raises(OutputError, match=f"^{tmp_path / 'blocked'}: cannot remove: "):
        replace_together({tmp_path / "a": b"new a"}, remove=[tmp_path / "stale", tmp_path / "blocked"])
    assert _snapshot(tmp_path) == before


class _InterruptedWhileStaging(dict):
    """Ctrl-C arriving once the first file is staged: the caller's KeyboardInterrupt, mid-write."""

    def items(self):
        first, *_ = super().items()
        yield first
        raise KeyboardInterrupt


def test_replace_together_rolls_back_when_interrupted(tmp_path):
    """An interrupted sign leaves no `.tmp` in `.packseal/`, which both sign and verify would refuse."""
    (tmp_path / "a").write_bytes(b"old a")
    before = _snapshot(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        replace_together(_InterruptedWhileStaging({tmp_path / "a": b"new a", tmp_path / "b": b"new b"}))
    assert _snapshot(tmp_path) == before
