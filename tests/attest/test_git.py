"""`attest.git` against real repositories: HEAD, a clean worktree, a pinned commit."""

from pathlib import Path

import pytest
from git_repo import GitRepo, isolate

from attest.git import Checkout, GitError, check_full_commit

SHA1 = "0123456789abcdef0123456789abcdef01234567"
SHA256 = "0123456789abcdef" * 4


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The `git` that `attest.git` runs sees no caller's configuration either."""
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
    assert checkout.changes() == []
    checkout.require_clean()


def _modify(repo: GitRepo) -> str:
    repo.write("pack/file.txt", "changed\n")
    return "pack/file.txt"


def _stage(repo: GitRepo) -> str:
    repo.write("pack/new.txt")
    repo.git("add", "pack/new.txt")
    return "pack/new.txt"


def _leave_untracked(repo: GitRepo) -> str:
    repo.write("deep/er/untracked.txt")
    return "deep/er/untracked.txt"


def _rename(repo: GitRepo) -> str:
    repo.git("mv", "tracked.txt", "renamed.txt")
    return "renamed.txt"


def _delete(repo: GitRepo) -> str:
    (repo.top / "tracked.txt").unlink()
    return "tracked.txt"


@pytest.mark.parametrize("change", [_modify, _stage, _leave_untracked, _rename, _delete])
def test_each_kind_of_change_is_listed_once_and_refused(repo: GitRepo, change):
    changed = change(repo)
    checkout = Checkout.containing(repo.top)
    assert checkout.changes() == [changed]
    with pytest.raises(GitError, match=f"uncommitted changes: {changed}$") as refused:
        checkout.require_clean()
    assert str(repo.top) in str(refused.value)


def test_many_changes_are_summarised(repo: GitRepo):
    for number in range(7):
        repo.write(f"new/{number}.txt")
    with pytest.raises(GitError, match=r"new/0\.txt, .*new/4\.txt and 2 more$"):
        Checkout.containing(repo.top).require_clean()


@pytest.mark.parametrize(
    "signature_file",
    [".packseal/manifest.json", "pack/.packseal/provenance.json", "a/b/.packseal/manifest.json.minisig"],
)
def test_packseal_directories_anywhere_never_count(repo: GitRepo, signature_file: str):
    repo.write(signature_file)
    checkout = Checkout.containing(repo.top)
    assert checkout.changes() == []
    checkout.require_clean()


def test_a_committed_packseal_file_changed_does_not_count(repo: GitRepo):
    repo.write("pack/.packseal/manifest.json", "old\n")
    repo.commit("signed")
    repo.write("pack/.packseal/manifest.json", "new\n")
    Checkout.containing(repo.top).require_clean()


@pytest.mark.parametrize("lookalike", ["x.packseal/file", ".packseal-notes", "pack/.packseal.bak"])
def test_only_a_directory_named_exactly_packseal_is_ignored(repo: GitRepo, lookalike: str):
    repo.write(lookalike)
    assert Checkout.containing(repo.top).changes() == [lookalike]


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
    assert Checkout.containing(repo.top).changes(bundle=repo.top / bundle) == [nested]


def test_a_packseal_directory_outside_the_bundle_does_not_count(repo: GitRepo):
    repo.write("pack/lib/placeholder.txt")
    repo.commit("pack")
    repo.write("other/.packseal/manifest.json")
    assert Checkout.containing(repo.top).changes(bundle=repo.top / "pack") == []
