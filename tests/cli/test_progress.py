"""Progress on the command line: said on a terminal, never in a pipe, never with --quiet.

Each run gives `packseal` a real pseudo-terminal as stderr (stdout stays a
pipe, as when a person pipes the verdict on), or a pipe for both, and
reads back what the terminal received.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import key_derivation
import pytest

PACKSEAL = Path(sys.executable).parent / "packseal"
CLEAR_LINE = b"\r\x1b[K"


def run_with_terminal_stderr(
    *args: object, env: dict[str, str] | None = None, command: list[str] | None = None
) -> tuple[subprocess.CompletedProcess[bytes], bytes]:
    """Run packseal (or `command`) with stderr on a pseudo-terminal; return the result and what the terminal showed."""
    controller, follower = os.openpty()
    environment = {key: value for key, value in os.environ.items() if key != "PACKSEAL_PASSWORD"}
    environment.update(env or {})
    try:
        child = subprocess.Popen(
            [*(command or [str(PACKSEAL)]), *map(str, args)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=follower,
            env=environment,
        )
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: every holder of the follower side has closed it
                break
            if not chunk:
                break
            shown += chunk
        stdout, _ = child.communicate(timeout=120)
    finally:
        os.close(controller)
    return subprocess.CompletedProcess(child.args, child.returncode, stdout, b""), shown


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "password"
    path.write_text("correct horse battery staple\n")
    return path


@pytest.fixture
def locked_key(key_store):
    return key_store("locked", password="correct horse battery staple")


@pytest.mark.slow
def test_unlocking_a_key_on_a_terminal_says_it_is_deriving_then_clears_the_line(
    tmp_path: Path, locked_key, password_file: Path
) -> None:
    release = tmp_path / "release.tar"
    release.write_bytes(b"release\n")

    result, shown = run_with_terminal_stderr(
        "sign", release, "--minisign-key", locked_key.key, "--password-file", password_file
    )

    assert result.returncode == 0, (result, shown)
    assert shown.startswith(CLEAR_LINE + f"deriving the key of {locked_key.key} from its password".encode()), shown
    assert shown.endswith(CLEAR_LINE), shown
    assert b"\n" not in shown, shown
    assert result.stdout.startswith(b"signed "), result.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    "quiet, env", [(("--quiet",), {}), (("-q",), {}), ((), {"PACKSEAL_SIGN_QUIET": "1"})], ids=["long", "short", "env"]
)
def test_quiet_says_nothing_on_a_terminal(
    tmp_path: Path, locked_key, password_file: Path, quiet: tuple[str, ...], env: dict[str, str]
) -> None:
    release = tmp_path / "release.tar"
    release.write_bytes(b"release\n")

    result, shown = run_with_terminal_stderr(
        "sign", release, "--minisign-key", locked_key.key, "--password-file", password_file, *quiet, env=env
    )

    assert result.returncode == 0, (result, shown)
    assert shown == b"", shown


def test_keygen_with_a_password_says_it_is_deriving(tmp_path: Path, password_file: Path) -> None:
    """The note is shown whatever the cost: packseal at the suite's cheap cost (the stock cost is test_minisign_*'s)."""
    result, shown = run_with_terminal_stderr(
        "keygen",
        "--output-dir",
        tmp_path / "keys",
        "--password-file",
        password_file,
        command=[sys.executable, key_derivation.__file__],
    )

    assert result.returncode == 0, (result, shown)
    assert b"deriving the key that encrypts packseal.key from its password" in shown, shown
    assert shown.endswith(CLEAR_LINE), shown


def test_keygen_without_a_password_derives_nothing_and_says_nothing(tmp_path: Path) -> None:
    result, shown = run_with_terminal_stderr("keygen", "--output-dir", tmp_path / "keys", "--no-password")

    assert result.returncode == 0, (result, shown)
    assert shown == b"", shown


# --- hashing progress: shown at once here, by a process whose half-second threshold is zero --------------------

IMMEDIATE = "import signing.progress; signing.progress.SHOW_AFTER_SECONDS = 0.0; from signing.cli import main; main()"


def run_immediate_with_terminal_stderr(*args: object) -> tuple[subprocess.CompletedProcess[bytes], bytes]:
    """As `run_with_terminal_stderr`, with progress shown from the first file (the CLI is otherwise the same)."""
    return run_with_terminal_stderr(*args, command=[sys.executable, "-c", IMMEDIATE])


def test_verifying_on_a_terminal_shows_files_and_bytes_then_clears_the_line(signed_pack: Path, keys) -> None:
    result, shown = run_immediate_with_terminal_stderr("verify-bundle", signed_pack, "--minisign-pubkey", keys.pub)

    assert result.returncode == 0, (result, shown)
    assert shown.startswith(CLEAR_LINE + b"verifying: "), shown
    assert b" file" in shown and b" B" in shown, shown
    assert shown.endswith(CLEAR_LINE) and b"\n" not in shown, shown
    assert result.stdout.startswith(b"VERIFIED "), result.stdout


def test_signing_on_a_terminal_shows_files_and_bytes(pack: Path, keys) -> None:
    result, shown = run_immediate_with_terminal_stderr("sign", pack, "--minisign-key", keys.key)

    assert result.returncode == 0, (result, shown)
    assert shown.startswith(CLEAR_LINE + b"signing: "), shown
    assert shown.endswith(CLEAR_LINE), shown


@pytest.mark.parametrize("flag", ["--json", "--quiet"])
def test_verifying_with_json_or_quiet_shows_nothing_on_a_terminal(signed_pack: Path, keys, flag: str) -> None:
    result, shown = run_immediate_with_terminal_stderr(
        "verify-bundle", signed_pack, "--minisign-pubkey", keys.pub, flag
    )

    assert result.returncode == 0, (result, shown)
    assert shown == b"", shown


def test_verifying_into_a_pipe_shows_nothing(signed_pack: Path, keys) -> None:
    result = subprocess.run(
        [sys.executable, "-c", IMMEDIATE, "verify-bundle", signed_pack, "--minisign-pubkey", keys.pub],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )

    assert result.returncode == 0, result
    assert result.stderr == b"", result.stderr
