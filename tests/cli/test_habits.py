"""Flags and habits users bring from cosign, sigstore-python and minisign.

`-h` is `--help` on every command; bare `packseal` prints its help and
succeeds; a usage error is one line that points at `--help`; every option
and argument says what it is for.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest

from signing.cli import cli as packseal_cli
from signing.cli.environment import commands

COMMAND_PATHS = [path for path, _ in commands(packseal_cli)]
PACKSEAL = Path(sys.executable).parent / "packseal"


def packseal(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PACKSEAL), *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)


def describe(result: subprocess.CompletedProcess[str]) -> str:
    return f"argv: {result.args}\nexit: {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def test_every_option_has_help_text() -> None:
    missing = [
        f"{path} {param.opts[0]}"
        for path, command in commands(packseal_cli)
        for param in command.params
        if isinstance(param, click.Option) and not (param.help or "").strip()
    ]
    assert not missing, f"options without help text: {missing}"


def test_every_argument_is_described_in_its_command_help() -> None:
    missing = [
        f"{path} {param.human_readable_name}"
        for path, command in commands(packseal_cli)
        for param in command.params
        if isinstance(param, click.Argument) and param.human_readable_name not in (command.help or "")
    ]
    assert not missing, f"arguments the command's help does not describe: {missing}"


@pytest.mark.parametrize("path", ["", *COMMAND_PATHS, "self"])
def test_dash_h_is_help(path: str) -> None:
    result = packseal(*path.split(), "-h")
    assert result.returncode == 0, describe(result)
    assert result.stdout.startswith("Usage: packseal"), describe(result)
    assert result.stdout == packseal(*path.split(), "--help").stdout


@pytest.mark.parametrize("path", ["", "self"])
def test_bare_group_prints_help_and_succeeds(path: str) -> None:
    result = packseal(*path.split())
    assert result.returncode == 0, describe(result)
    assert result.stdout.startswith("Usage: packseal"), describe(result)
    assert result.stderr == ""


@pytest.mark.parametrize(
    "argv, command",
    [
        (["verify-bundle", "--bogus"], "packseal verify-bundle"),
        (["sign"], "packseal sign"),
        (["no-such-command"], "packseal"),
    ],
)
def test_usage_error_is_one_line_pointing_at_help(argv: list[str], command: str) -> None:
    result = packseal(*argv)
    assert result.returncode == 2, describe(result)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, describe(result)
    assert lines[0].startswith("packseal: error: "), describe(result)
    assert lines[0].endswith(f"(see '{command} --help')"), describe(result)


def _shipped_root_date() -> str:
    """This test's own reading of the root: the newest validFor.start in sigstore's embedded trusted_root.json."""
    import json
    from importlib.resources import files

    root = json.loads((files("sigstore") / "_store" / "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev" / "trusted_root.json").read_text())
    starts = [
        entry["validFor"]["start"]
        for kind in ("certificateAuthorities", "tlogs", "ctlogs", "timestampAuthorities")
        for entry in root.get(kind, [])
        if "start" in entry.get("validFor", {})
    ]
    return max(starts)[:10]


@pytest.mark.parametrize("argv", [["version"], ["--version"]])
def test_version_names_libraries_and_shipped_root_without_network(argv: list[str], tmp_path: Path) -> None:
    from importlib.metadata import version

    no_network = {"HOME": str(tmp_path), "https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    result = subprocess.run(
        [str(PACKSEAL), *argv], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60,
        env={"PATH": "/usr/bin:/bin", **no_network},
    )
    assert result.returncode == 0, describe(result)
    assert result.stderr == "", describe(result)
    lines = result.stdout.splitlines()
    assert lines[:3] == [f"{name} {version(name)}" for name in ("packseal", "sigstore", "py-minisign")]
    assert lines[3].startswith(f"sigstore trusted root {_shipped_root_date()} "), describe(result)
