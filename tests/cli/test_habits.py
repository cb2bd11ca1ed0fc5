"""Flags and habits users bring from cosign, sigstore-python and minisign.

`-h` is `--help` on every command; bare `packseal` prints its help and
succeeds; a usage error is one line that points at `--help`; every option
and argument says what it is for.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from console_script import PACKSEAL, run_in_process

from signing.cli import cli as packseal_cli
from signing.cli.environment import commands

COMMAND_PATHS = [path for path, _ in commands(packseal_cli)]


def packseal(*args: str) -> subprocess.CompletedProcess[str]:
    return run_in_process(args, env=os.environ, timeout=60)


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


@pytest.mark.parametrize("path", ["", *COMMAND_PATHS, "self", "lock"])
def test_dash_h_is_help(path: str) -> None:
    result = packseal(*path.split(), "-h")
    assert result.returncode == 0, describe(result)
    assert result.stdout.startswith("Usage: packseal"), describe(result)
    assert result.stdout == packseal(*path.split(), "--help").stdout


@pytest.mark.parametrize("path", ["", "self", "lock"])
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

    root = json.loads(
        (files("sigstore") / "_store" / "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev" / "trusted_root.json").read_text()
    )
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
        [str(PACKSEAL), *argv],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **no_network},
    )
    assert result.returncode == 0, describe(result)
    assert result.stderr == "", describe(result)
    lines = result.stdout.splitlines()
    assert lines[:3] == [f"{name} {version(name)}" for name in ("packseal", "sigstore", "py-minisign")]
    assert lines[3].startswith(f"sigstore trusted root {_shipped_root_date()} "), describe(result)


# --- unlocking an encrypted key says so, and the prompt names the key ----------------------------------------


def test_unlocking_an_encrypted_key_off_a_terminal_adds_no_line(tmp_path: Path, key_store) -> None:
    """In CI, stderr stays what it was: nothing on success, one line on failure (the terminal case is below)."""
    locked = key_store("locked", password="correct horse battery staple")
    release = tmp_path / "release.tar"
    release.write_bytes(b"release\n")
    password_file = tmp_path / "password"
    password_file.write_text("correct horse battery staple\n")

    result = packseal("sign", str(release), "--minisign-key", str(locked.key), "--password-file", str(password_file))

    assert result.returncode == 0, describe(result)
    assert result.stderr == ""
    assert "deriving" not in result.stdout


def test_the_password_prompt_names_the_key_file(tmp_path: Path, key_store) -> None:
    """On a terminal (a pseudo-terminal here, made the child's controlling one), the prompt says whose password."""
    import fcntl
    import os
    import pty
    import termios

    locked = key_store("locked", password="correct horse battery staple")
    release = tmp_path / "release.tar"
    release.write_bytes(b"release\n")
    controller, terminal = pty.openpty()

    def own_terminal() -> None:
        os.setsid()
        fcntl.ioctl(terminal, termios.TIOCSCTTY, 0)

    environment = {key: value for key, value in os.environ.items() if key != "PACKSEAL_PASSWORD"}
    child = subprocess.Popen(
        [str(PACKSEAL), "sign", str(release), "--minisign-key", str(locked.key)],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        preexec_fn=own_terminal,
        env=environment,
    )
    os.close(terminal)
    seen = b""
    while b"Password" not in seen or b":" not in seen.split(b"Password", 1)[1]:
        seen += os.read(controller, 1024)
    os.write(controller, b"correct horse battery staple\n")
    while True:
        try:
            chunk = os.read(controller, 1024)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    assert child.wait(timeout=60) == 0, seen
    os.close(controller)
    assert f"Password for {locked.key}: ".encode() in seen, seen
    assert b"deriving the key of" in seen and b"signed " in seen, seen


# --- no dependency noise ---------------------------------------------------------------------------------------


def test_a_malformed_sigstore_bundle_is_named_by_field_not_by_pydantic(tmp_path: Path) -> None:
    release = tmp_path / "release.tar"
    release.write_bytes(b"release\n")
    bundle = tmp_path / "release.tar.sigstore.json"
    bundle.write_text('{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}')

    result = packseal(
        "verify-bundle",
        str(release),
        "--offline",
        "--certificate-identity",
        "alice@example.com",
        "--certificate-oidc-issuer",
        "https://issuer.example.com",
        "--bundle",
        str(bundle),
    )

    assert result.returncode == 1, describe(result)
    assert "verificationMaterial: Field required" in result.stdout, describe(result)
    for noise in ("validation error", "[type=", "input_value", "pydantic", "TUF repository", "Traceback"):
        assert noise not in result.stdout + result.stderr, describe(result)


def test_sigstore_and_tuf_log_lines_never_reach_the_terminal(tmp_path: Path) -> None:
    script = (
        "from signing.cli import quiet_dependencies\n"
        "quiet_dependencies()\n"
        "from sigstore._internal.tuf import DEFAULT_TUF_URL, TrustUpdater\n"
        "TrustUpdater(DEFAULT_TUF_URL, offline=True)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, describe(result)
    assert result.stderr == "", describe(result)
