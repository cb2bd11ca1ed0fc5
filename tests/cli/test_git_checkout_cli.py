"""`attest` and `verify-bundle --git-checkout` read a checkout's Git state and never run its `.git`.

The checkout is the bundle's, so its `.git/config`, hooks and attributes
are the attacker's: `core.fsmonitor`, hooks, filter drivers and
`core.sshCommand` name commands that `git` itself would run. packseal
reads Git state without running `git`, so none of them runs, and nothing
in `.git` is written. And a checkout "at commit C" means that the bundle
is exactly C's tree: a file C lacks, ignored by `.gitignore` or not, is
refused.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import json_output
import pytest
from git_repo import GitRepo, clean_environment, run_packseal

REPOSITORY = "https://github.com/acme/pack"
BUILDER = "https://ci.acme.example/builders/release"
HOOKS = (
    "fsmonitor-watchman", "post-index-change", "post-checkout", "post-commit", "pre-commit", "pre-push",
    "reference-transaction", "post-rewrite", "pre-auto-gc", "push-to-checkout",
)  # fmt: skip
# A file that commit C lacks, by how Git would treat it.
EXTRA_FILES = {
    "ignored": "pack/debug.log",  # the committed .gitignore says *.log
    "excluded": "pack/docs/notes.local",  # .git/info/exclude says *.local
    "untracked": "pack/docs/new.md",
}


run = run_packseal


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return clean_environment(tmp_path_factory.mktemp("home"), ceiling=tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def released(tmp_path_factory, environment, key_store, cli) -> SimpleNamespace:
    """A repository whose commit C holds `pack`, signed and attested at C by its maintainer."""
    keys = key_store("trusted")
    repo = GitRepo.init(tmp_path_factory.mktemp("released") / "repo", environment, origin=f"{REPOSITORY}.git")
    cli.build_pack(repo.top / "pack")
    repo.write(".gitignore", "*.log\n")
    commit = repo.commit("release")
    (repo.top / ".git" / "info").mkdir(exist_ok=True)
    (repo.top / ".git" / "info" / "exclude").write_text("*.local\n")
    released = SimpleNamespace(repo=repo, keys=keys, commit=commit, environment=environment)
    sign_and_attest(repo.top / "pack", released, cli)
    return released


def sign_and_attest(pack: Path, released: SimpleNamespace, cli, *attest_options: str) -> None:
    for command, options in (("sign", ()), ("attest", ("--builder-id", BUILDER, *attest_options))):
        result = run(released.environment, command, pack, "--minisign-key", released.keys.key, *options)
        assert result.returncode == 0, cli.describe(result)


@pytest.fixture
def copy(released: SimpleNamespace, tmp_path: Path) -> SimpleNamespace:
    """A private copy of the released checkout, `.git` included; every file's timestamps are new."""
    top = Path(shutil.copytree(released.repo.top, tmp_path / "repo", symlinks=True))
    return SimpleNamespace(repo=GitRepo(top, released.environment), top=top, pack=top / "pack")


def plant_hostile_git(top: Path, marker: Path) -> None:
    """Make every command `git` could run from this checkout's `.git` record that it ran, in `marker`."""
    tools = marker.parent / "tools"
    tools.mkdir()
    ran = tools / "ran"
    ran.write_text(f'#!/bin/sh\necho "$0 $*" >> {marker}\n')
    passes_through = tools / "filter"
    passes_through.write_text(f'#!/bin/sh\necho "$0 $*" >> {marker}\nexec cat\n')
    for script in (ran, passes_through):
        script.chmod(0o755)
    git = top / ".git"
    with (git / "config").open("a") as config:
        config.write(
            f"[core]\n\tfsmonitor = {ran}\n\tsshCommand = {ran}\n\tpager = {ran}\n\teditor = {ran}\n"
            f'[filter "evil"]\n\tclean = {passes_through} clean\n\tsmudge = {passes_through} smudge\n'
            f"\tprocess = {passes_through} process\n"
            f'[diff "evil"]\n\ttextconv = {ran}\n'
        )
    (git / "info" / "attributes").write_text("* filter=evil diff=evil\n")
    for hook in HOOKS:
        shutil.copy(ran, git / "hooks" / hook)


def attest(copy: SimpleNamespace, released: SimpleNamespace, *options: Any) -> subprocess.CompletedProcess:
    return run(
        released.environment, "attest", copy.pack, "--minisign-key", released.keys.key, "--builder-id", BUILDER,
        *options,
    )  # fmt: skip


def verify_at_commit(copy: SimpleNamespace, released: SimpleNamespace, *options: Any) -> dict:
    result = run(
        released.environment, "verify-bundle", copy.pack, "--minisign-pubkey", released.keys.pub,
        "--source-repo", REPOSITORY, "--source-commit", released.commit, *options, "--json",
    )  # fmt: skip
    assert result.returncode in (0, 1), result
    verdict = json_output.parse(result.stdout)
    assert verdict["verified"] is (result.returncode == 0), verdict
    return verdict


COMMANDS = {
    "attest": lambda copy, released: attest(copy, released).returncode == 0,
    "verify-bundle": lambda copy, released: verify_at_commit(copy, released, "--git-checkout")["verified"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_nothing_that_the_checkouts_git_names_runs(copy, released, tmp_path, cli, command: str):
    marker = tmp_path / "marker" / "ran"
    marker.parent.mkdir()
    plant_hostile_git(copy.top, marker)
    before = cli.snapshot(copy.top / ".git")
    succeeded = COMMANDS[command](copy, released)
    assert not marker.exists(), f"packseal {command} ran: {marker.read_text()}"
    assert succeeded
    assert cli.snapshot(copy.top / ".git") == before


@pytest.mark.parametrize("command", COMMANDS)
def test_nothing_in_git_is_written(copy, released, cli, command: str):
    """`git status` would refresh `.git/index` here: the copy gave every file a new timestamp."""
    before = cli.snapshot(copy.top / ".git")
    assert COMMANDS[command](copy, released)
    assert cli.snapshot(copy.top / ".git") == before


@pytest.mark.parametrize("kind", EXTRA_FILES)
def test_attest_refuses_a_file_of_the_bundle_that_head_lacks(copy, released, cli, kind: str):
    extra = EXTRA_FILES[kind]
    copy.repo.write(extra, "not from commit C\n")
    before = cli.snapshot(copy.top)
    result = attest(copy, released)
    assert result.returncode != 0, cli.describe(result)
    assert extra in result.stderr and "Traceback" not in result.stderr, cli.describe(result)
    assert len(result.stderr.splitlines()) == 1, cli.describe(result)
    assert cli.snapshot(copy.top) == before
    allowed = attest(copy, released, "--allow-dirty")
    assert allowed.returncode == 0, cli.describe(allowed)


@pytest.mark.parametrize("kind", EXTRA_FILES)
def test_git_checkout_refuses_a_file_of_the_bundle_that_the_commit_lacks(copy, released, cli, kind: str):
    """Signed and attested with the extra file, so only the Git check can tell."""
    extra = EXTRA_FILES[kind]
    copy.repo.write(extra, "not from commit C\n")
    sign_and_attest(copy.pack, released, cli, "--allow-dirty")
    assert verify_at_commit(copy, released)["verified"] is True
    verdict = verify_at_commit(copy, released, "--git-checkout")
    refusal = verdict["checks"][-1]
    assert (refusal["name"], refusal["ok"]) == ("git-checkout", False), verdict
    assert extra in refusal["detail"], verdict


def test_git_checkout_refuses_a_bundle_missing_a_file_of_the_commit(copy, released, cli):
    (copy.pack / "docs" / "guide.md").unlink()
    (copy.pack / "docs" / "latest.md").unlink()
    sign_and_attest(copy.pack, released, cli, "--allow-dirty")
    refusal = verify_at_commit(copy, released, "--git-checkout")["checks"][-1]
    assert (refusal["name"], refusal["ok"]) == ("git-checkout", False)
    assert "pack/docs/guide.md (missing)" in refusal["detail"]
