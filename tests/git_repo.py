"""Real Git repositories for the provenance tests, made with the `git` binary.

Nothing here depends on the machine's Git or CI state: the environment the
tests and the commands they run see has no `GIT_*`, `GITHUB_*`, `RUNNER_*`,
`ACTIONS_*` or `PACKSEAL_*` variable of the caller's, ignores the system
and global Git configuration, commits as a fixed identity, and stops Git's
search for a repository at a directory the test owns.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from console_script import run_in_process

_FOREIGN_PREFIXES = ("GIT_", "GITHUB_", "RUNNER_", "ACTIONS_", "PACKSEAL_")
GITHUB_WORKFLOW = ".github/workflows/release.yml"
_IDENTITY = {
    "GIT_AUTHOR_NAME": "Packseal Test",
    "GIT_AUTHOR_EMAIL": "test@packseal.invalid",
    "GIT_COMMITTER_NAME": "Packseal Test",
    "GIT_COMMITTER_EMAIL": "test@packseal.invalid",
}


def clean_environment(home: Path, ceiling: Path) -> dict[str, str]:
    """This process's environment without Git or CI state, with a private HOME.

    `ceiling` is where Git stops looking for a repository, so a directory
    below it is "not a checkout" even when the temporary directory is.
    """
    home.mkdir(parents=True, exist_ok=True)
    kept = {
        name: value for name, value in os.environ.items() if not name.startswith(_FOREIGN_PREFIXES) and name != "CI"
    }
    return (
        kept
        | _IDENTITY
        | {
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CEILING_DIRECTORIES": str(ceiling),
        }
    )


def isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Make a clean environment this process's whole environment for one test; return it.

    `attest.git` runs `git` in the process's environment, so unit tests
    need the isolation that `clean_environment` gives a subprocess.
    """
    environment = clean_environment(tmp_path / "home", ceiling=tmp_path)
    for name in list(os.environ):
        if name not in environment:
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment


def github_job(sha: str, *, repository: str = "acme/pack", ref: str = "refs/heads/main") -> dict[str, str]:
    """Every variable a GitHub Actions job sets that provenance reads, for a push to `ref`."""
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": repository,
        "GITHUB_SHA": sha,
        "GITHUB_REF": ref,
        "GITHUB_WORKFLOW_REF": f"{repository}/{GITHUB_WORKFLOW}@{ref}",
        "GITHUB_RUN_ID": "4242",
        "GITHUB_RUN_ATTEMPT": "2",
        "GITHUB_SERVER_URL": "https://github.com",
        "RUNNER_ENVIRONMENT": "github-hosted",
        "GITHUB_EVENT_NAME": "push",
    }


@dataclass(frozen=True)
class GitRepo:
    """A worktree made by `git init`, and the environment its `git` runs in."""

    top: Path
    environment: Mapping[str, str]

    @classmethod
    def init(
        cls, top: Path, environment: Mapping[str, str], *, object_format: str = "sha1", origin: str | None = None
    ) -> GitRepo:
        top.mkdir(parents=True, exist_ok=True)
        repo = cls(top, environment)
        repo.git("init", "--quiet", "--initial-branch=main", f"--object-format={object_format}")
        if origin is not None:
            repo.git("remote", "add", "origin", origin)
        return repo

    def git(self, *arguments: str) -> str:
        result = subprocess.run(
            ["git", "-C", str(self.top), *arguments],
            capture_output=True,
            text=True,
            env=dict(self.environment),
            timeout=60,
        )
        assert result.returncode == 0, f"git {' '.join(arguments)}: {result.stderr}"
        return result.stdout.strip()

    def write(self, relative: str, content: str = "content\n") -> Path:
        path = self.top / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        return path

    def commit(self, message: str, *paths: str) -> str:
        """Stage `paths` (default: everything) and commit; return the new HEAD."""
        self.git("add", "--", *(paths or ["."]))
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        return self.head

    @property
    def head(self) -> str:
        return self.git("rev-parse", "HEAD")


def run_packseal(environment: dict[str, str], *arguments: Any, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run packseal in exactly `environment` (see `clean_environment`): no caller's Git, CI or password variables.

    It runs in this process (`console_script.run_in_process`); a run past `timeout` raises TimeoutExpired.
    """
    return run_in_process(arguments, env=environment, timeout=timeout)
