"""`attest.git` against real repositories: HEAD, a clean worktree, a bundle that is its commit.

The repositories are made with the real `git`; `attest.git` reads them
without running it.
"""

import os
import re
from pathlib import Path

import pytest
from git_repo import GitRepo, isolate

from attest.errors import GitError
from attest.git import Checkout, check_full_commit
from attest.worktree import Difference

SIGNATURES = ".packseal"
"""Where packseal writes signatures; `attest.git` skips the directory of that name only when told."""


def paths(changes: list[Difference]) -> list[str]:
    return [change.path for change in changes]


SHA1 = "0123456789abcdef0123456789abcdef01234567"
SHA256 = "0123456789abcdef" * 4


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The `git` that makes the fixtures sees no caller's configuration."""
    return isolate(tmp_path, monkeypatch)


@pytest.fixture(params=["sha1", "sha256"])
def repo(request: pytest.FixtureRequest, tmp_path: Path, environment: dict[str, str]) -> GitRepo:
    """A repository of either object format with one commit: a tracked file and a pack directory."""
    repo = GitRepo.init(tmp_path / "repo", environment, object_format=request.param)
    repo.write("tracked.txt")
    repo.write("pack/file.txt")
    repo.commit("first")
    return repo


def test_head_is_the_full_commit_in_the_repository_object_format(repo: GitRepo):
    checkout = Checkout.containing(repo.top)
    digits = {"sha1": 40, "sha256": 64}[checkout.object_format]
    assert checkout.head == repo.head
    assert len(checkout.head) == digits
    assert checkout.object_format == repo.git("rev-parse", "--show-object-format")


@pytest.mark.parametrize("inside", ["pack", "pack/file.txt"])
def test_a_path_inside_the_checkout_finds_its_top(repo: GitRepo, inside: str):
    checkout = Checkout.containing(repo.top / inside)
    assert (checkout.top, checkout.head) == (repo.top, repo.head)


def test_head_follows_a_new_commit(repo: GitRepo):
    first = repo.head
    repo.write("tracked.txt", "second\n")
    second = repo.commit("second")
    assert second != first
    assert Checkout.containing(repo.top).head == second


def test_branch_is_the_full_ref_and_none_when_detached(repo: GitRepo):
    assert Checkout.containing(repo.top).branch() == "refs/heads/main"
    repo.git("tag", "v1.0")
    repo.git("checkout", "--quiet", "--detach", "v1.0")
    assert Checkout.containing(repo.top).branch() is None


def test_origin_url_is_read_and_none_without_origin(repo: GitRepo):
    assert Checkout.containing(repo.top).origin_url() is None
    repo.git("remote", "add", "origin", "https://github.com/acme/pack.git")
    assert Checkout.containing(repo.top).origin_url() == "https://github.com/acme/pack.git"


def test_a_fresh_commit_is_clean(repo: GitRepo):
    checkout = Checkout.containing(repo.top)
    assert checkout.changes(signature_dir=SIGNATURES) == []
    checkout.require_clean(signature_dir=SIGNATURES)


def _modify(repo: GitRepo) -> str:
    repo.write("pack/file.txt", "changed\n")
    return "pack/file.txt (content differs)"


def _stage(repo: GitRepo) -> str:
    repo.write("pack/new.txt")
    repo.git("add", "pack/new.txt")
    return "pack/new.txt (not in the commit)"


def _leave_untracked(repo: GitRepo) -> str:
    repo.write("deep/er/untracked.txt")
    return "deep/er/untracked.txt (not in the commit)"


def _rename(repo: GitRepo) -> str:
    repo.git("mv", "tracked.txt", "renamed.txt")
    return "renamed.txt (not in the commit), tracked.txt (missing)"


def _delete(repo: GitRepo) -> str:
    (repo.top / "tracked.txt").unlink()
    return "tracked.txt (missing)"


def _make_executable(repo: GitRepo) -> str:
    (repo.top / "pack" / "file.txt").chmod(0o755)
    return "pack/file.txt (executable bit differs)"


def _replace_with_a_link(repo: GitRepo) -> str:
    (repo.top / "tracked.txt").unlink()
    (repo.top / "tracked.txt").symlink_to("pack/file.txt")
    return "tracked.txt (symlink on disk, file in the commit)"


def _replace_with_a_fifo(repo: GitRepo) -> str:
    (repo.top / "tracked.txt").unlink()
    os.mkfifo(repo.top / "tracked.txt")
    return "tracked.txt (FIFO on disk, file in the commit)"


def _replace_with_a_directory(repo: GitRepo) -> str:
    (repo.top / "tracked.txt").unlink()
    repo.write("tracked.txt/inside")
    return "tracked.txt (directory on disk, file in the commit), tracked.txt/inside (not in the commit)"


@pytest.mark.parametrize(
    "change",
    [
        _modify, _stage, _leave_untracked, _rename, _delete,
        _make_executable, _replace_with_a_link, _replace_with_a_fifo, _replace_with_a_directory,
    ],
)  # fmt: skip
def test_each_kind_of_change_is_listed_once_and_refused(repo: GitRepo, change):
    changed = change(repo)
    checkout = Checkout.containing(repo.top)
    assert ", ".join(map(str, checkout.changes(signature_dir=SIGNATURES))) == changed
    with pytest.raises(GitError, match=f"uncommitted changes: {re.escape(changed)}$") as refused:
        checkout.require_clean(signature_dir=SIGNATURES)
    assert str(repo.top) in str(refused.value)


def test_a_link_retargeted_and_a_link_made_a_file_are_changes(repo: GitRepo):
    (repo.top / "pack" / "link").symlink_to("file.txt")
    (repo.top / "pack" / "other-link").symlink_to("file.txt")
    repo.commit("links")
    (repo.top / "pack" / "link").unlink()
    (repo.top / "pack" / "link").symlink_to("../tracked.txt")
    (repo.top / "pack" / "other-link").unlink()
    repo.write("pack/other-link", "content\n")
    assert list(map(str, Checkout.containing(repo.top).changes(signature_dir=SIGNATURES))) == [
        "pack/link (symlink target differs)",
        "pack/other-link (file on disk, symlink in the commit)",
    ]


def test_only_the_disk_counts_not_the_index(repo: GitRepo):
    """A change staged and then undone on disk is not in what a build reads."""
    repo.write("tracked.txt", "staged\n")
    repo.git("add", "tracked.txt")
    repo.write("tracked.txt")
    assert Checkout.containing(repo.top).changes(signature_dir=SIGNATURES) == []


def test_many_changes_are_summarised(repo: GitRepo):
    for number in range(7):
        repo.write(f"new/{number}.txt")
    with pytest.raises(GitError, match=r"new/0\.txt \(not in the commit\), .*new/4\.txt .* and 2 more$"):
        Checkout.containing(repo.top).require_clean(signature_dir=SIGNATURES)


@pytest.mark.parametrize(
    "signature_file",
    [".packseal/manifest.json", "pack/.packseal/provenance.json", "a/b/.packseal/manifest.json.minisig"],
)
def test_packseal_directories_anywhere_never_count(repo: GitRepo, signature_file: str):
    repo.write(signature_file)
    checkout = Checkout.containing(repo.top)
    assert checkout.changes(signature_dir=SIGNATURES) == []
    checkout.require_clean(signature_dir=SIGNATURES)


def test_without_a_signature_dir_named_a_packseal_directory_is_a_change_like_any_other(repo: GitRepo):
    """`attest` knows Git, not packseal's layout: the caller names the directory it writes signatures to."""
    repo.write("pack/.packseal/manifest.json")
    assert paths(Checkout.containing(repo.top).changes()) == ["pack/.packseal/manifest.json"]
    assert paths(Checkout.containing(repo.top).bundle_changes(repo.top / "pack")) == ["pack/.packseal/manifest.json"]


def test_a_committed_packseal_file_changed_does_not_count(repo: GitRepo):
    repo.write("pack/.packseal/manifest.json", "old\n")
    repo.commit("signed")
    repo.write("pack/.packseal/manifest.json", "new\n")
    Checkout.containing(repo.top).require_clean(signature_dir=SIGNATURES)


@pytest.mark.parametrize("lookalike", ["x.packseal/file", ".packseal-notes", "pack/.packseal.bak"])
def test_only_a_directory_named_exactly_packseal_is_ignored(repo: GitRepo, lookalike: str):
    repo.write(lookalike)
    assert paths(Checkout.containing(repo.top).changes(signature_dir=SIGNATURES)) == [lookalike]


def test_require_at_accepts_head(repo: GitRepo):
    Checkout.containing(repo.top).require_at(repo.head)


def test_require_at_refuses_another_commit(repo: GitRepo):
    first = repo.head
    repo.write("tracked.txt", "second\n")
    second = repo.commit("second")
    with pytest.raises(GitError, match=f"at {second}, not at the pinned commit {first}"):
        Checkout.containing(repo.top).require_at(first)


def test_require_at_refuses_an_abbreviation_of_head(repo: GitRepo):
    with pytest.raises(GitError, match="not a full commit id"):
        Checkout.containing(repo.top).require_at(repo.head[:12])


@pytest.mark.parametrize("commit", [SHA1, SHA256])
def test_full_commit_ids_of_both_formats_are_accepted(commit: str):
    assert check_full_commit(commit) == commit


@pytest.mark.parametrize(
    "commit",
    ["", SHA1[:7], SHA1[:39], SHA1 + "0", SHA256[:63], SHA256 + "0", SHA1.upper(), "g" * 40, f" {SHA1}", f"{SHA1}\n"],
)
def test_anything_else_is_refused_as_not_a_full_commit_id(commit: str):
    with pytest.raises(GitError, match=r"pinned commit .* is not a full commit id .*abbreviated ids"):
        check_full_commit(commit, what="pinned commit")


def test_a_directory_outside_any_checkout_is_refused(tmp_path: Path):
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(GitError, match="not a Git checkout") as refused:
        Checkout.containing(plain)
    assert str(plain) in str(refused.value)


@pytest.mark.parametrize("object_format", ["sha1", "sha256"])
def test_an_unborn_head_is_refused(tmp_path: Path, environment: dict[str, str], object_format: str):
    repo = GitRepo.init(tmp_path / "unborn", environment, object_format=object_format)
    repo.write("staged.txt")
    repo.git("add", "staged.txt")
    with pytest.raises(GitError, match="not a Git checkout with a commit") as refused:
        Checkout.containing(repo.top)
    assert str(repo.top) in str(refused.value)


@pytest.mark.parametrize("bundle", ["pack", "."])
def test_a_packseal_directory_nested_inside_the_bundle_counts(repo: GitRepo, bundle: str):
    """Below the bundle's root, `.packseal/` is bundle content: an uncommitted file there is a change."""
    nested = "pack/lib/.packseal/hidden.py" if bundle == "pack" else "lib/.packseal/hidden.py"
    repo.write(nested)
    repo.write("pack/.packseal/manifest.json" if bundle == "pack" else ".packseal/manifest.json")
    changes = paths(Checkout.containing(repo.top).changes(bundle=repo.top / bundle, signature_dir=SIGNATURES))
    assert [path for path in changes if not path.startswith(".git/")] == [nested]


def test_a_packseal_directory_outside_the_bundle_does_not_count(repo: GitRepo):
    repo.write("pack/lib/placeholder.txt")
    repo.commit("pack")
    repo.write("other/.packseal/manifest.json")
    assert Checkout.containing(repo.top).changes(bundle=repo.top / "pack", signature_dir=SIGNATURES) == []


# --- ignored files: build output beside the bundle, dirt inside it ------------


def test_an_ignored_file_is_not_a_change_outside_the_bundle(repo: GitRepo):
    repo.write(".gitignore", "*.log\nbuild/\n")
    repo.commit("ignore")
    repo.write("debug.log")
    repo.write("build/out/tool.bin")
    checkout = Checkout.containing(repo.top)
    assert checkout.changes(bundle=repo.top / "pack", signature_dir=SIGNATURES) == []


@pytest.mark.parametrize("ignore", ["committed .gitignore", "info/exclude", "nested .gitignore"])
def test_an_ignored_file_inside_the_bundle_is_a_change(repo: GitRepo, ignore: str):
    if ignore == "info/exclude":
        (repo.top / ".git" / "info").mkdir(exist_ok=True)
        (repo.top / ".git" / "info" / "exclude").write_text("*.log\n")
    else:
        repo.write(".gitignore" if ignore == "committed .gitignore" else "pack/.gitignore", "*.log\n")
        repo.commit("ignore")
    repo.write("pack/debug.log")
    checkout = Checkout.containing(repo.top)
    assert list(map(str, checkout.changes(bundle=repo.top / "pack", signature_dir=SIGNATURES))) == [
        "pack/debug.log (not in the commit)"
    ]
    assert checkout.changes(signature_dir=SIGNATURES) == []


def test_a_negated_pattern_reincludes_a_file(repo: GitRepo):
    repo.write(".gitignore", "out/*\n!out/keep.txt\n")
    repo.commit("ignore")
    repo.write("out/skip.txt")
    repo.write("out/keep.txt")
    assert paths(Checkout.containing(repo.top).changes(signature_dir=SIGNATURES)) == ["out/keep.txt"]


def test_a_single_file_bundle_built_into_an_ignored_directory_is_not_a_change(repo: GitRepo):
    """A release artifact is built from the source; the source must be clean, not contain the artifact."""
    repo.write(".gitignore", "/dist/\n")
    repo.commit("ignore")
    artifact = repo.write("dist/tool.tar.gz")
    assert Checkout.containing(repo.top).changes(bundle=artifact, signature_dir=SIGNATURES) == []


# --- the bundle is exactly the commit's tree ---------------------------------


@pytest.fixture
def bundle(repo: GitRepo) -> Path:
    """A committed pack: a file, an executable, a link, a nested directory; an ignore rule for *.log."""
    repo.write(".gitignore", "*.log\n")
    repo.write("pack/lib/module.py")
    (repo.write("pack/run.sh", "#!/bin/sh\n")).chmod(0o755)
    (repo.top / "pack" / "latest").symlink_to("file.txt")
    repo.commit("pack")
    repo.write("pack/.packseal/manifest.json")
    return repo.top / "pack"


def test_a_bundle_equal_to_the_commit_has_no_changes(repo: GitRepo, bundle: Path):
    repo.write("elsewhere.txt", "changes beside the bundle do not count\n")
    checkout = Checkout.containing(bundle)
    assert checkout.bundle_changes(bundle, signature_dir=SIGNATURES) == []
    checkout.require_committed(bundle, signature_dir=SIGNATURES)


def _add_an_ignored_file(bundle: Path) -> str:
    (bundle / "lib" / "debug.log").write_text("local\n")
    return "pack/lib/debug.log (not in the commit)"


def _add_a_nested_packseal_file(bundle: Path) -> str:
    (bundle / "lib" / ".packseal").mkdir()
    (bundle / "lib" / ".packseal" / "manifest.json").write_text("{}\n")
    return "pack/lib/.packseal/manifest.json (not in the commit)"


def _remove_a_file(bundle: Path) -> str:
    (bundle / "lib" / "module.py").unlink()
    return "pack/lib/module.py (missing)"


def _drop_the_executable_bit(bundle: Path) -> str:
    (bundle / "run.sh").chmod(0o644)
    return "pack/run.sh (executable bit differs)"


def _retarget_the_link(bundle: Path) -> str:
    (bundle / "latest").unlink()
    (bundle / "latest").symlink_to("run.sh")
    return "pack/latest (symlink target differs)"


@pytest.mark.parametrize(
    "change",
    [_add_an_ignored_file, _add_a_nested_packseal_file, _remove_a_file, _drop_the_executable_bit, _retarget_the_link],
)
def test_a_bundle_that_is_not_the_commit_is_refused_naming_the_file(bundle: Path, change):
    changed = change(bundle)
    checkout = Checkout.containing(bundle)
    assert list(map(str, checkout.bundle_changes(bundle, signature_dir=SIGNATURES))) == [changed]
    with pytest.raises(
        GitError, match=f"{re.escape(str(bundle))}: not exactly the tree of commit .*: {re.escape(changed)}$"
    ):
        checkout.require_committed(bundle, signature_dir=SIGNATURES)


def test_a_single_file_bundle_is_compared_alone(repo: GitRepo, bundle: Path):
    tracked = repo.top / "tracked.txt"
    repo.write("tracked.txt.minisig", "packseal's own signature beside it\n")
    checkout = Checkout.containing(tracked)
    assert checkout.bundle_changes(tracked, signature_dir=SIGNATURES) == []
    repo.write("tracked.txt", "changed\n")
    assert list(map(str, checkout.bundle_changes(tracked, signature_dir=SIGNATURES))) == [
        "tracked.txt (content differs)"
    ]


def test_a_single_file_that_the_commit_lacks_is_refused(repo: GitRepo, bundle: Path):
    built = repo.write("dist/tool.log", "ignored build output\n")
    checkout = Checkout.containing(built)
    assert list(map(str, checkout.bundle_changes(built, signature_dir=SIGNATURES))) == [
        "dist/tool.log (not in the commit)"
    ]


def test_the_whole_worktree_as_the_bundle_holds_its_git_which_is_not_the_commit(repo: GitRepo, bundle: Path):
    """A bundle that ships a `.git` (hooks, config) is not commit C's tree, for verify and attest alike."""
    repo.write(".packseal/manifest.json")
    repo.write("debug.log")
    checkout = Checkout.containing(repo.top)
    for changes in (
        checkout.bundle_changes(repo.top, signature_dir=SIGNATURES),
        checkout.changes(bundle=repo.top, signature_dir=SIGNATURES),
    ):
        outside_git = [str(change) for change in changes if not change.path.startswith(".git/")]
        assert outside_git == ["debug.log (not in the commit)", "pack/.packseal/manifest.json (not in the commit)"]
        assert ".git/HEAD" in paths(changes)


# --- reading the repository ---------------------------------------------------


def test_a_linked_worktree_is_read_through_its_git_file(repo: GitRepo, tmp_path: Path):
    linked = tmp_path / "linked"
    repo.git("worktree", "add", "--quiet", "-b", "feature", str(linked))
    checkout = Checkout.containing(linked / "pack")
    assert (checkout.top, checkout.head, checkout.branch()) == (linked, repo.head, "refs/heads/feature")
    assert checkout.changes(signature_dir=SIGNATURES) == []
    assert checkout.bundle_changes(linked / "pack", signature_dir=SIGNATURES) == []


def test_packed_refs_and_objects_are_read(repo: GitRepo):
    repo.git("gc", "--quiet")
    assert not any((repo.top / ".git" / "objects").glob("??/*"))
    checkout = Checkout.containing(repo.top)
    assert checkout.head == repo.head
    assert checkout.changes(signature_dir=SIGNATURES) == []


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (("core.repositoryformatversion", "2"), "repository format version 2 is not supported"),
        (("extensions.refStorage", "reftable"), "repository extension refstorage is not supported"),
    ],
)
def test_a_repository_format_this_reader_does_not_know_is_refused(repo: GitRepo, setting, message: str):
    config = repo.top / ".git" / "config"
    text = config.read_text().replace("repositoryformatversion = 0", "repositoryformatversion = 1")
    section, key = setting[0].split(".")
    config.write_text(text + f"[{section}]\n\t{key} = {setting[1]}\n")
    with pytest.raises(GitError, match=message):
        Checkout.containing(repo.top)


def test_a_damaged_repository_is_one_line_not_a_traceback(repo: GitRepo):
    head = repo.head
    loose = repo.top / ".git" / "objects" / head[:2] / head[2:]
    loose.chmod(0o644)
    loose.write_bytes(b"not a zlib stream")
    with pytest.raises(GitError, match=f"{re.escape(str(repo.top))}: cannot read the Git repository: ") as refused:
        Checkout.containing(repo.top).changes(signature_dir=SIGNATURES)
    assert "\n" not in str(refused.value)


def test_nothing_the_config_names_runs_and_nothing_is_written(repo: GitRepo, tmp_path: Path):
    marker = tmp_path / "ran"
    command = tmp_path / "command"
    command.write_text(f'#!/bin/sh\necho "$0 $*" >> {marker}\nexec cat\n')
    command.chmod(0o755)
    for key in ("core.fsmonitor", "core.sshCommand", "filter.evil.clean", "filter.evil.smudge", "filter.evil.process"):
        repo.git("config", key, str(command))
    (repo.top / ".git" / "info").mkdir(exist_ok=True)
    (repo.top / ".git" / "info" / "attributes").write_text("* filter=evil\n")
    (repo.top / ".git" / "hooks" / "post-index-change").symlink_to(command)
    repo.git("remote", "add", "origin", "https://github.com/acme/pack.git")
    os.utime(repo.top / "tracked.txt")
    before = {path: path.read_bytes() for path in (repo.top / ".git").rglob("*") if path.is_file()}
    checkout = Checkout.containing(repo.top / "pack")
    assert (
        checkout.changes(signature_dir=SIGNATURES),
        checkout.bundle_changes(repo.top / "pack", signature_dir=SIGNATURES),
    ) == ([], [])
    assert (checkout.branch(), checkout.origin_url()) == ("refs/heads/main", "https://github.com/acme/pack.git")
    assert not marker.exists()
    assert {path: path.read_bytes() for path in (repo.top / ".git").rglob("*") if path.is_file()} == before


@pytest.mark.parametrize("where", ["vendor/sub", "pack/sub"])
def test_a_submodule_is_not_compared_beside_the_bundle_and_refused_inside_it(
    repo: GitRepo, environment: dict[str, str], tmp_path: Path, where: str
):
    library = GitRepo.init(
        tmp_path / "library", environment, object_format=repo.git("rev-parse", "--show-object-format")
    )
    library.write("lib.txt")
    library.commit("library")
    repo.git("-c", "protocol.file.allow=always", "submodule", "--quiet", "add", str(library.top), where)
    repo.commit("submodule")
    checkout = Checkout.containing(repo.top)
    pack = repo.top / "pack"
    if where == "vendor/sub":
        assert (
            checkout.changes(bundle=pack, signature_dir=SIGNATURES),
            checkout.bundle_changes(pack, signature_dir=SIGNATURES),
        ) == ([], [])
    else:
        assert list(map(str, checkout.bundle_changes(pack, signature_dir=SIGNATURES))) == [
            "pack/sub (directory on disk, submodule in the commit)"
        ]
        assert paths(checkout.changes(bundle=pack, signature_dir=SIGNATURES)) == ["pack/sub"]


def test_an_object_whose_content_is_not_its_id_is_refused(repo: GitRepo):
    """The pin names commit C; a `.git` that stores another commit under C's id must not pass as C."""
    pinned = repo.head
    repo.write("pack/extra.txt", "not in the pinned commit\n")
    other = repo.commit("other")
    repo.git("update-ref", "refs/heads/main", pinned)
    objects = repo.top / ".git" / "objects"
    forged = objects / pinned[:2] / pinned[2:]
    forged.chmod(0o644)
    forged.write_bytes((objects / other[:2] / other[2:]).read_bytes())
    checkout = Checkout.containing(repo.top)
    assert checkout.head == pinned
    with pytest.raises(GitError, match="cannot read the Git repository: ChecksumMismatch"):
        checkout.require_committed(repo.top / "pack", signature_dir=SIGNATURES)
