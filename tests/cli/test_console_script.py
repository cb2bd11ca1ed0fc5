"""A command run in this process answers exactly as the installed script in a child process does.

Most CLI tests run `packseal` in process (`console_script.run_in_process`,
through `cli.packseal`) to save a child's start-up per run; that is only
sound if nothing a test looks at differs. Each case here runs one command
both ways, each in its own copy of the same directory (so paths in the
output are the same relative paths), and compares exit status, stdout and
stderr exactly, and the files the command left (names, types and modes).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from console_script import run_as_child, run_in_process
from trees import snapshot

PUB = "keys/trusted.pub"
NOT_UTF8 = "caf\udce9"  # b"caf\xe9", a Latin-1 name: printed escaped, never a crash
PASSWORD = {"PACKSEAL_PASSWORD": "correct horse battery staple"}

# (id, arguments, extra environment, stdin)
CASES: list[tuple[str, list[str], dict[str, str], str | bytes | None]] = [
    ("bare-group-help", [], {}, None),
    ("dash-h", ["-h"], {}, None),
    ("command-help-narrow", ["verify-bundle", "--help"], {"COLUMNS": "60"}, None),
    ("version", ["version"], {}, None),
    ("unknown-command", ["no-such-command"], {}, None),
    ("unknown-option", ["verify-bundle", "pack", "--bogus"], {}, None),
    ("verified", ["verify-bundle", "pack", "--minisign-pubkey", PUB], {}, None),
    ("verified-json", ["verify-bundle", "pack", "--minisign-pubkey", PUB, "--json"], {}, None),
    ("json-from-environment", ["verify-bundle", "pack", "--minisign-pubkey", PUB],
     {"PACKSEAL_VERIFY_BUNDLE_JSON": "1"}, None),
    ("refused", ["verify-bundle", "tampered", "--minisign-pubkey", PUB], {}, None),
    ("refused-json", ["verify-bundle", "tampered", "--minisign-pubkey", PUB, "--json"], {}, None),
    ("refused-as-bytes", ["verify-bundle", "tampered", "--minisign-pubkey", PUB], {}, b""),
    ("missing-bundle-json", ["verify-bundle", "absent", "--minisign-pubkey", PUB, "--json"], {}, None),
    ("path-not-utf8", ["verify-bundle", NOT_UTF8, "--minisign-pubkey", PUB], {}, None),
    ("trust-from-environment", ["verify-bundle", "pack"], {"PACKSEAL_VERIFY_BUNDLE_MINISIGN_PUBKEY": PUB}, None),
    ("sign-file", ["sign", "release.bin", "--minisign-key", "keys/trusted.key"], {}, None),
    ("sign-over-signature-dir", ["sign", "pack", "--minisign-key", "keys/trusted.key"], {}, None),
    ("password-needed-stdin-ignored", ["sign", "release.bin", "--minisign-key", "keys/locked.key"], {}, "typed\n"),
    ("password-from-environment", ["sign", "release.bin", "--minisign-key", "keys/locked.key"], PASSWORD, None),
    ("self-record", ["self", "record", "--binary", "release.bin", "--out", "r",
                     "--minisign-key", "keys/trusted.key"], {}, None),
    ("self-check-mismatch", ["self", "check", "--binary", "pack/README.md", "--record", "recorded",
                             "--minisign-pubkey", PUB], {}, None),
]  # fmt: skip


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, key_store, cli) -> Path:
    """One directory both runs get a copy of: keys, a signed and a tampered pack, a file, a self record."""
    root = tmp_path_factory.mktemp("workspace")
    key_store("trusted").copy_to(root / "keys")
    key_store("locked", password=cli.PASSWORD).copy_to(root / "keys")
    cli.build_pack(root / "pack")
    cli.sign_ok(root / "pack", key_store("trusted"))
    shutil.copytree(root / "pack", root / "tampered", symlinks=True)
    (root / "tampered" / "README.md").write_text("changed after signing\n")
    (root / "release.bin").write_bytes(b"release\n")
    recorded = cli.packseal(
        "self", "record", "--binary", root / "release.bin", "--out", root / "recorded", "--minisign-key",
        root / "keys" / "trusted.key",
    )  # fmt: skip
    assert recorded.returncode == 0, cli.describe(recorded)
    return root


def _run(
    runner: Callable[..., Any], directory: Path, arguments: list[str], env: dict[str, str], stdin: str | bytes | None
) -> tuple[tuple[int, Any, Any], dict[str, tuple[str, int]]]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PACKSEAL_")} | env
    result = runner(arguments, env=environment, input=stdin, text=not isinstance(stdin, bytes), cwd=directory)
    # Names, types and modes: a signature's trusted comment holds the second it was made.
    files = {path: (kind, mode) for path, (kind, mode, _) in snapshot(directory).items()}
    return (result.returncode, result.stdout, result.stderr), files


@pytest.mark.parametrize(("arguments", "env", "stdin"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_in_process_answers_as_the_console_script(
    arguments: list[str], env: dict[str, str], stdin: str | bytes | None, workspace: Path, tmp_path: Path
) -> None:
    child_dir, here_dir = tmp_path / "child", tmp_path / "here"
    for directory in (child_dir, here_dir):
        shutil.copytree(workspace, directory, symlinks=True)

    child, child_files = _run(run_as_child, child_dir, arguments, env, stdin)
    here, here_files = _run(run_in_process, here_dir, arguments, env, stdin)

    assert here == child
    assert here_files == child_files
    assert child[0] in (0, 1, 2), child


def test_a_run_past_its_time_limit_raises_as_a_killed_child_would_and_leaves_nothing_changed(
    workspace: Path, tmp_path: Path
) -> None:
    """Reading a password from a FIFO nobody writes blocks in `open`; the time limit ends it, here as in a child."""
    fifo = tmp_path / "password"
    os.mkfifo(fifo)
    arguments = ["sign", workspace / "release.bin", "--minisign-key", workspace / "keys" / "locked.key"]
    before = (dict(os.environ), os.getcwd(), sys.stdin, sys.stdout, sys.stderr)

    for runner in (run_as_child, run_in_process):
        with pytest.raises(subprocess.TimeoutExpired):
            runner([*arguments, "--password-file", fifo], env={"PATH": os.environ["PATH"]}, cwd=tmp_path, timeout=1)

    assert (dict(os.environ), os.getcwd(), sys.stdin, sys.stdout, sys.stderr) == before
