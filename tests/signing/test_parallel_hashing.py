"""Hashing a bundle on every core: the same manifest byte for byte, whatever the threads and the order (issue 13)."""

import errno
import hashlib
import os
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attest.manifest import Manifest, manifest_statement
from signing.bundle import bundle_entries, directory_manifest
from signing.digest import _CHUNK_BYTES, Lane, digest_descriptor, hash_all
from signing.errors import BundleError

GOLDEN_TREE_DIGEST = "b024af48db1e79f2986de132bb7171f76a0d614e86a6ff9f67e67aa9dadd1ad5"
GOLDEN_STATEMENT_SHA256 = "aeb3f7d506cff9a2bdcb2a9f7368a20e65006041cecf0a8c0d38a197c76b60e1"
"""Computed from `_golden_tree` by packseal before issue 13 (commit 81c1170: one thread, protobuf, rfc8785)."""
PATIENCE = 60.0
"""Seconds a thread waits for another: only a failing run waits this long, so it is far beyond a loaded machine's."""


def _golden_tree(root: Path) -> Path:
    """312 entries: sizes either side of the hashing buffer, links, modes, and names whose byte order is subtle."""
    generator = random.Random(13)
    spec: dict[str, bytes | tuple[bytes, int]] = {
        "empty": b"",
        "big/two-and-a-half-mib.bin": generator.randbytes(5 * 512 * 1024 + 7),
        "big/one-mib-exactly.bin": generator.randbytes(1024 * 1024),
        "bin/tool": (b"#!/bin/sh\necho hi\n", 0o755),
        "a-b": b"dash sorts before slash",
        "a/b": b"slash",
        "B/upper": b"upper",
        "caf\u00e9/menu.txt": b"menu",
        "\U0001f600.txt": b"astral",
        "\ue000.txt": b"private use",
    }
    for index in range(300):
        spec[f"many/d{index % 7}/f{index:04d}.dat"] = generator.randbytes(generator.randint(0, 9000))
    for relative, content in spec.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        data, mode = content if isinstance(content, tuple) else (content, 0o644)
        path.write_bytes(data)
        path.chmod(mode)
    os.symlink("../a/b", root / "bin" / "link-to-b")
    os.symlink("many", root / "dir-link")
    return root


@pytest.fixture(scope="module")
def golden_tree(tmp_path_factory) -> Path:
    return _golden_tree(tmp_path_factory.mktemp("golden") / "pack")


def test_the_manifest_is_what_packseal_wrote_before_issue_13(golden_tree):
    manifest = directory_manifest(golden_tree)
    assert len(manifest.entries) == 312
    assert manifest.digest == GOLDEN_TREE_DIGEST
    statement = manifest_statement("pack", manifest).to_bytes()
    assert hashlib.sha256(statement).hexdigest() == GOLDEN_STATEMENT_SHA256


@pytest.mark.parametrize("threads", [1, 2, 3, 8, 400])
def test_the_entries_do_not_depend_on_the_number_of_threads(golden_tree, threads):
    entries = bundle_entries(golden_tree, threads=threads)
    assert Manifest(tuple(entries)).digest == GOLDEN_TREE_DIGEST


def test_the_digest_does_not_depend_on_the_order_entries_were_found(golden_tree):
    entries = bundle_entries(golden_tree)
    for seed in range(5):
        random.Random(seed).shuffle(entries)
        assert Manifest.from_entries(entries).digest == GOLDEN_TREE_DIGEST


_NAMES = st.text(st.sampled_from("aAbB-_.\u00e9\ue000\U0001f600"), min_size=1, max_size=4).filter(
    lambda name: name not in (".", "..") and not name.endswith(".")
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(
        st.lists(_NAMES, min_size=1, max_size=3).map("/".join), st.integers(0, 3 * _CHUNK_BYTES // 2), max_size=12
    ),
    st.integers(2, 6),
)
def test_any_tree_hashes_alike_on_one_thread_and_on_many(tmp_path_factory, files, threads):
    root = tmp_path_factory.mktemp("tree")
    for relative, size in files.items():
        path = root / relative
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(bytes([size % 251]) * size)
        except (FileExistsError, IsADirectoryError, NotADirectoryError):
            continue  # a name that is both a file and a directory in the drawn spec
    one = bundle_entries(root, threads=1)
    assert bundle_entries(root, threads=threads) == one
    for entry in one:
        if hasattr(entry, "sha256"):
            assert entry.sha256 == hashlib.sha256((root / entry.path).read_bytes()).hexdigest()


class _Recorder:
    """A thread-safe `Progress` that keeps the totals, and which threads reported."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.files = self.bytes = 0
        self.threads: set[int] = set()
        self.notes: list[str] = []

    def advance(self, files: int, bytes: int) -> None:
        with self.lock:
            self.files += files
            self.bytes += bytes
            self.threads.add(threading.get_ident())

    def note(self, message: str) -> None:
        self.notes.append(message)


def test_progress_counts_every_file_and_byte(golden_tree):
    recorder = _Recorder()
    manifest = directory_manifest(golden_tree, progress=recorder)
    files = [entry for entry in manifest.entries if hasattr(entry, "size")]
    assert (recorder.files, recorder.bytes) == (len(files), sum(entry.size for entry in files))


def test_progress_hears_of_a_large_file_before_it_is_done(tmp_path):
    (tmp_path / "large").write_bytes(b"x" * (4 * _CHUNK_BYTES + 1))
    calls: list[tuple[int, int]] = []

    class Calls(_Recorder):
        def advance(self, files: int, bytes: int) -> None:
            calls.append((files, bytes))

    directory_manifest(tmp_path, progress=Calls())
    assert calls == [(0, _CHUNK_BYTES)] * 4 + [(1, 1)]


@pytest.mark.parametrize("replacement", ["symlink", "fifo"])
def test_a_file_swapped_after_the_listing_is_refused_not_read(tmp_path, replacement):
    """The listing's type is not trusted: the file is opened with O_NOFOLLOW and typed on its descriptor."""
    (tmp_path / "a").write_bytes(b"first")
    (tmp_path / "b").write_bytes(b"second")
    (tmp_path / "secret").write_bytes(b"outside the bundle, through a link")

    class SwapB(_Recorder):
        def advance(self, files: int, bytes: int) -> None:  # called once "a" is hashed, before "b" is opened
            (tmp_path / "b").unlink()
            if replacement == "symlink":
                os.symlink("secret", tmp_path / "b")
            else:
                os.mkfifo(tmp_path / "b")

    with pytest.raises(BundleError, match=r"/b: (symlink|FIFO), not a regular file"):
        bundle_entries(tmp_path, progress=SwapB(), threads=1)


def test_a_directory_swapped_for_a_link_after_the_listing_is_not_read_through(tmp_path):
    """A file is opened beneath directories themselves opened with O_NOFOLLOW, never through a linked parent.

    The listing ends before hashing starts: `d` replaced by a link to a
    directory outside, holding the same file, passed as the signed tree.
    """
    bundle, outside = tmp_path / "pack", tmp_path / "outside"
    (bundle / "d").mkdir(parents=True)
    (bundle / "a").write_bytes(b"first")
    (bundle / "d" / "x").write_bytes(b"the signed content")
    outside.mkdir()
    (outside / "x").write_bytes(b"the signed content")
    signed = directory_manifest(bundle)

    class SwapD(_Recorder):
        def advance(self, files: int, bytes: int) -> None:  # called once "a" is hashed, before "d/x" is opened
            if (bundle / "d").is_dir() and not (bundle / "d").is_symlink():
                (bundle / "d" / "x").unlink()
                (bundle / "d").rmdir()
                os.symlink(outside, bundle / "d")

    with pytest.raises(BundleError, match=r"/d: symlink, not a directory"):
        bundle_entries(bundle, progress=SwapD(), threads=1)
    assert signed.entries[1].path == "d/x"


def test_the_first_failure_in_order_is_raised_whatever_the_timing():
    def hash_one(item: int, lane: Lane) -> int:
        lane.hashing_large_file()  # every item "large": the helpers take items too
        if item in (3, 7, 90):
            raise BundleError(f"item {item}")
        return item

    for threads in (1, 2, 5):
        with pytest.raises(BundleError, match=r"^item 3$"):
            hash_all(list(range(100)), hash_one, threads=threads)
    assert hash_all(list(range(100)), lambda item, lane: item * 2, threads=3) == [i * 2 for i in range(100)]


def _hash_named_file(directory: Path, name: str, lane: Lane) -> str:
    descriptor = os.open(directory / name, os.O_RDONLY)
    try:
        return digest_descriptor(descriptor, lane).sha256
    finally:
        os.close(descriptor)


def test_large_files_are_hashed_on_two_threads_at_once(tmp_path):
    """Each thread reuses one buffer and `hashlib` releases the GIL: two large files are in flight together."""
    for name in ("one", "two"):
        (tmp_path / name).write_bytes(b"y" * (8 * _CHUNK_BYTES))
    in_flight: set[str] = set()
    overlapped = threading.Event()
    lock = threading.Lock()

    def hash_one(name: str, lane: Lane) -> str:
        digest = _hash_named_file(tmp_path, name, lane)  # its first full buffer calls the helper in
        with lock:
            in_flight.add(name)
            if len(in_flight) == 2:
                overlapped.set()
        overlapped.wait(timeout=PATIENCE)  # to see the other file hashed too
        return digest

    assert hash_all(["one", "two"], hash_one, threads=2) == [hashlib.sha256(b"y" * 8 * _CHUNK_BYTES).hexdigest()] * 2
    assert overlapped.is_set()


def test_small_files_are_hashed_on_the_calling_thread_alone(tmp_path):
    """For small files the GIL, not hashing, is the bound: a second thread only slowed them down (issue 13)."""
    names = [f"f{index}" for index in range(50)]
    for name in names:
        (tmp_path / name).write_bytes(name.encode() * 100)
    threads: set[threading.Thread] = set()
    before = set(threading.enumerate())

    def hash_one(name: str, lane: Lane) -> str:
        threads.add(threading.current_thread())
        assert set(threading.enumerate()) <= before  # no helper was even started (another test's may have ended)
        return _hash_named_file(tmp_path, name, lane)

    hash_all(names, hash_one, threads=4)
    assert threads == {threading.current_thread()}


def test_a_helper_takes_no_more_small_files_once_no_large_one_is_hashed():
    """The helper called in by a large file does not stay on to contend for the small ones after it."""
    helper_took_one, caller_took_two = threading.Event(), threading.Event()
    hashed_by: dict[int, threading.Thread] = {}

    def hash_one(item: int, lane: Lane) -> int:
        hashed_by[item] = threading.current_thread()
        if item == 0:
            lane.hashing_large_file()
            assert helper_took_one.wait(timeout=PATIENCE)  # item 0 is large: the helper takes item 1 meanwhile
        elif item == 1:
            helper_took_one.set()
            assert caller_took_two.wait(timeout=PATIENCE)  # item 0 is done: no thread hashes a large file now
        elif item == 2:
            caller_took_two.set()
        return item

    caller = threading.current_thread()
    assert hash_all(list(range(100)), hash_one, threads=2) == list(range(100))
    assert hashed_by[1] is not caller
    assert all(hashed_by[item] is caller for item in [0, *range(2, 100)])


def test_large_files_between_small_ones_are_hashed_two_at_a_time():
    """A small file taken beside a large one does not send the helper to sleep with the next large file waiting.

    Sorted paths often alternate so (a library, then its small licence or
    checksum file): the helper that took the small file must go on to the
    next large one while the caller still hashes its own.
    """
    second_large_started = threading.Event()
    hashed_by: dict[int, threading.Thread] = {}

    def hash_one(item: int, lane: Lane) -> int:
        hashed_by[item] = threading.current_thread()
        if item % 2 == 0:
            lane.hashing_large_file()
        if item == 0:
            assert second_large_started.wait(timeout=PATIENCE)
        elif item == 2:
            second_large_started.set()
        return item

    assert hash_all(list(range(5)), hash_one, threads=2) == list(range(5))
    assert hashed_by[0] is not hashed_by[2]


def test_ctrl_c_in_the_calling_thread_is_raised_without_waiting_for_the_helpers() -> None:
    """A helper still hashing a large file must not hold up Ctrl-C: the command would hang for the whole file."""
    helper_started, helper_done, helper_released = threading.Event(), threading.Event(), threading.Event()
    caller = threading.current_thread()

    def hash_one(item: int, lane: Lane) -> int:
        if threading.current_thread() is caller:
            lane.hashing_large_file()
            assert helper_started.wait(timeout=PATIENCE)
            raise KeyboardInterrupt
        helper_started.set()
        helper_released.wait(timeout=PATIENCE)  # a large file, hashed until the test has its answer
        helper_done.set()
        return item

    with pytest.raises(KeyboardInterrupt):
        hash_all(list(range(2)), hash_one, threads=2)
    assert not helper_done.is_set()
    helper_released.set()


@pytest.fixture
def one_thread_only(monkeypatch) -> list[threading.Thread]:
    """Threads after the first fail to start, as with no thread left (a process or cgroup limit); the one started."""
    start = threading.Thread.start
    started: list[threading.Thread] = []

    def start_one_only(thread: threading.Thread) -> None:
        if started:
            raise RuntimeError("can't start new thread")
        started.append(thread)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", start_one_only)
    return started


def test_a_helper_that_cannot_start_fails_with_its_own_error(one_thread_only: list[threading.Thread]) -> None:
    """No thread left (a process or cgroup limit): that error is raised, and the helpers started are ended.

    Joining the helper that never started raised "cannot join thread before
    it is started" instead, hiding why.
    """

    def hash_one(item: int, lane: Lane) -> int:
        lane.hashing_large_file()
        return item

    with pytest.raises(RuntimeError, match=r"^can't start new thread$"):
        hash_all(list(range(10)), hash_one, threads=3)
    one_thread_only[0].join(timeout=PATIENCE)
    assert not one_thread_only[0].is_alive()


class _LaneStates:
    """A `lane_state` for `hash_all` that records which thread made, used and ended each lane's state."""

    def __init__(self) -> None:
        self.made: list[threading.Thread] = []
        self.used: dict[int, set[threading.Thread]] = {}
        self.ended: dict[int, threading.Thread] = {}

    @contextmanager
    def __call__(self) -> Iterator[int]:
        self.made.append(threading.current_thread())
        lane = len(self.made)
        self.used[lane] = set()
        yield lane
        self.ended[lane] = threading.current_thread()

    def hash_one(self, item: int, lane: Lane[int]) -> int:
        lane.hashing_large_file()  # every item "large": the helpers take items too
        self.used[lane.state].add(threading.current_thread())
        return item


def test_each_lane_state_is_made_by_the_caller_and_ended_by_the_lane_s_own_thread():
    """Made while the caller is inside `hash_all` (what it derives from still open); ended by the thread using it."""
    states = _LaneStates()
    assert hash_all(list(range(100)), states.hash_one, threads=3, lane_state=states) == list(range(100))
    assert states.made == [threading.current_thread()] * 3
    for lane, used in states.used.items():
        assert used <= {states.ended[lane]}  # one thread per lane, which ended it
    assert states.ended[1] is threading.current_thread()


def test_the_state_of_a_lane_whose_thread_cannot_start_is_ended_too(one_thread_only: list[threading.Thread]) -> None:
    states = _LaneStates()
    with pytest.raises(RuntimeError, match=r"^can't start new thread$"):
        hash_all(list(range(10)), states.hash_one, threads=3, lane_state=states)
    one_thread_only[0].join(timeout=PATIENCE)
    assert sorted(states.ended) == [1, 2, 3]
    assert states.ended[2] is one_thread_only[0]
    assert states.ended[3] is threading.current_thread()  # its thread never ran


def _descriptors_into(directory: Path) -> list[str]:
    """What this process's open descriptors point to, inside `directory` (Linux's /proc)."""
    targets = []
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue  # the listing's own descriptor, closed meanwhile
        if target == str(directory) or target.startswith(f"{directory}/"):
            targets.append(target)
    return targets


def test_ctrl_c_leaves_a_helper_its_directories_until_it_ends(tmp_path):
    """After Ctrl-C the caller returns while a helper finishes the file it holds, in a directory it opened.

    Closing that directory's descriptor under the helper raced with the
    helper closing it itself: "Bad file descriptor" replaced the interrupt.
    """
    bundle = tmp_path / "pack"
    (bundle / "d").mkdir(parents=True)
    (bundle / "a.bin").write_bytes(b"a" * (4 * _CHUNK_BYTES))
    (bundle / "d" / "b.bin").write_bytes(b"b" * (4 * _CHUNK_BYTES))
    helper_mid_file, caller_returned = threading.Event(), threading.Event()
    caller = threading.current_thread()
    before = set(threading.enumerate())

    class Interrupt(_Recorder):
        def advance(self, files: int, bytes: int) -> None:
            if threading.current_thread() is caller:
                assert helper_mid_file.wait(timeout=PATIENCE)  # a.bin is large: the helper took d/b.bin
                raise KeyboardInterrupt
            helper_mid_file.set()
            assert caller_returned.wait(timeout=PATIENCE)

    with pytest.raises(KeyboardInterrupt):
        bundle_entries(bundle, progress=Interrupt(), threads=2)
    held = [str(bundle), f"{bundle}/d", f"{bundle}/d/b.bin"]  # the helper's: its root, its directory, its file
    assert sorted(_descriptors_into(bundle)) == held
    caller_returned.set()
    for helper in set(threading.enumerate()) - before:
        helper.join(timeout=PATIENCE)
    assert _descriptors_into(bundle) == []


@pytest.mark.parametrize("copies_made", [0, 1], ids=["the walk's", "a hashing thread's"])
def test_no_descriptor_left_for_a_copy_of_the_root_is_a_bundle_error(tmp_path, monkeypatch, copies_made):
    """The walk and each hashing thread hold a copy of the root's descriptor: none left is refused, not a traceback."""
    bundle = tmp_path / "pack"
    bundle.mkdir()
    (bundle / "a.txt").write_bytes(b"a")
    dup, made = os.dup, []

    def dup_until_none_is_left(descriptor: int) -> int:
        if len(made) == copies_made:
            raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))
        made.append(dup(descriptor))
        return made[-1]

    monkeypatch.setattr(os, "dup", dup_until_none_is_left)
    with pytest.raises(BundleError, match=r"pack/: Too many open files$"):
        bundle_entries(bundle, threads=1)


def test_a_helper_never_copies_the_root_after_ctrl_c_closed_it(tmp_path, monkeypatch):
    """Each hashing thread's copy of the root is made while the root is open: before Ctrl-C can close it.

    A helper copied the root at its first item. Called in, then held before
    the copy until Ctrl-C had returned and the root's descriptor number was
    reused (here for another directory, holding the same names), it copied
    that number and hashed files of the other directory. `os.dup` is only
    wrapped to hold a helper in it and to record what each copy is of.
    """
    bundle, elsewhere = tmp_path / "pack", tmp_path / "elsewhere"
    for directory, content in ((bundle, b"in the bundle"), (elsewhere, b"not in the bundle, and longer")):
        (directory / "d").mkdir(parents=True)
        (directory / "d" / "b.txt").write_bytes(content)
    (bundle / "a.bin").write_bytes(b"a" * (4 * _CHUNK_BYTES))
    helper_in_hand, caller_returned = threading.Event(), threading.Event()
    caller = threading.current_thread()
    before = set(threading.enumerate())
    dup, copied_from, copies_of = os.dup, set(), []

    def dup_seen(descriptor: int) -> int:
        copied_from.add(descriptor)
        if threading.current_thread() is not caller:  # a helper that took its item and has not copied the root yet
            helper_in_hand.set()
            assert caller_returned.wait(timeout=PATIENCE)
        copy = dup(descriptor)
        copies_of.append(os.readlink(f"/proc/self/fd/{copy}"))
        return copy

    class Interrupt(_Recorder):
        def advance(self, files: int, bytes: int) -> None:
            if threading.current_thread() is caller:
                assert helper_in_hand.wait(timeout=PATIENCE)  # a.bin is large: the helper took d/b.txt
                raise KeyboardInterrupt
            super().advance(files, bytes)
            helper_in_hand.set()
            assert caller_returned.wait(timeout=PATIENCE)

    monkeypatch.setattr(os, "dup", dup_seen)
    recorder = Interrupt()
    with pytest.raises(KeyboardInterrupt):
        bundle_entries(bundle, progress=recorder, threads=2)
    (root,) = copied_from
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(root)  # closed by bundle_entries: its number is free for the next descriptor the process opens
    reused = os.open(elsewhere, os.O_RDONLY | os.O_DIRECTORY)
    if reused != root:  # mostly the same: a new descriptor takes the lowest free number
        os.dup2(reused, root)
        os.close(reused)
    try:
        caller_returned.set()
        for helper in set(threading.enumerate()) - before:
            helper.join(timeout=PATIENCE)
    finally:
        os.close(root)
    assert copies_of == [str(bundle)] * len(copies_of)
    assert (recorder.files, recorder.bytes) == (1, len(b"in the bundle"))
