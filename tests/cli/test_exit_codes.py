"""Every command exits with the same codes for the same kind of outcome.

0 verified or done; 1 refused (verification failed, or what was given cannot
be signed or recorded as it is); 2 asked wrongly (bad option, missing or
unusable key, password or path, malformed trust input, output in the way);
130 interrupted. Each command is run through each class it has, the
interrupt by a real SIGINT while the command waits on a FIFO or hashes a
large file. `keygen` examines nothing, so it has no refusal.

The hashing command is stopped (SIGSTOP) once it has read `MID` bytes of
the large file, and interrupted only if it is still short of the end: the
signal then lands mid-hash. The file is sparse and grows to `LARGE` bytes
only after the test has signed or recorded it empty, so neither the test
nor the command hashes all of it, and reading from `MID` to the end would
take the command minutes: no load keeps the test off the CPU long enough
to miss it.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import json_output
import pytest
from proc_files import read_position

PACKSEAL = Path(sys.executable).parent / "packseal"
COMMIT = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
SOURCE = ["--source-repo", "https://github.com/acme/pack", "--source-commit", COMMIT]
BUILDER = ["--builder-id", "https://ci.example.com/builders/release"]
LARGE = 256 * 1024**3
"""What the large file grows to: hashing all of it would take minutes."""
MID = 128 * 1024**2
"""How far into the large file the command is stopped: the pack's small files, hashed beside it, are long done."""


@dataclass
class Case:
    id: str
    setup: Callable[[SimpleNamespace], list]
    exit: int


def fifo_at(ctx: SimpleNamespace, name: str) -> Path:
    fifo = ctx.tmp_path / name
    os.mkfifo(fifo)
    ctx.wait_for = lambda process: _reader_waits_on(fifo, process)
    return fifo


def large_file(ctx: SimpleNamespace, path: Path) -> Path:
    """An empty file at `path`, grown to `LARGE` bytes (sparse, at once) just before the command starts.

    Whatever signs or records it in the setup reads nothing. The command
    meets a file other than the one signed or recorded, which it would
    refuse, but only once it has hashed all of it: it is interrupted long
    before.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    ctx.before_start = lambda: os.truncate(path, LARGE)
    ctx.wait_for = lambda process: _stopped_mid_read(path, process)
    return path


def locked_key(ctx: SimpleNamespace) -> Path:
    return ctx.key_store("locked", password=ctx.cli.PASSWORD).copy_to(ctx.tmp_path / "locked").key


def fifo_in_pack(ctx: SimpleNamespace) -> Path:
    os.mkfifo(ctx.pack / "queue")
    return ctx.pack


def signed_pack(ctx: SimpleNamespace) -> Path:
    ctx.cli.sign_ok(ctx.pack, ctx.keys)
    return ctx.pack


def tampered_pack(ctx: SimpleNamespace) -> Path:
    signed_pack(ctx)
    (ctx.pack / "README.md").write_text("changed after signing\n")
    return ctx.pack


def signed_large_pack(ctx: SimpleNamespace) -> Path:
    large_file(ctx, ctx.pack / "data" / "large.bin")
    return signed_pack(ctx)


def recorded(ctx: SimpleNamespace, binary: Path | None = None) -> tuple[Path, Path]:
    if binary is None:
        binary = ctx.tmp_path / "daemon"
        binary.write_bytes(b"\x7fELF a released daemon\n")
    record = ctx.tmp_path / "daemon.record"
    result = ctx.cli.packseal("self", "record", "--binary", binary, "--out", record, "--minisign-key", ctx.keys.key)
    assert result.returncode == 0, ctx.cli.describe(result)
    return binary, record


def changed_after_recording(ctx: SimpleNamespace) -> tuple[Path, Path]:
    binary, record = recorded(ctx)
    binary.write_bytes(b"\x7fELF a trojan\n")
    return binary, record


# fmt: off
def policy_file(c: SimpleNamespace, public_key: Path) -> Path:
    path = c.tmp_path / "trust.toml"
    path.write_text(f'[[publisher]]\nname = "acme"\nbundles = ["*"]\nminisign_keys = ["{public_key}"]\n')
    return path


CASES = [
    Case("keygen-done", lambda c: ["keygen", "--output-dir", c.tmp_path / "new", "--no-password"], 0),
    Case("keygen-bad-option", lambda c: ["keygen", "--output-dir", c.tmp_path / "new", "--bogus"], 2),
    Case("keygen-over-existing-key", lambda c: ["keygen", "--output-dir", c.keys.key.parent, "--name", "trusted",
                                                "--no-password"], 2),
    Case("keygen-interrupted", lambda c: ["keygen", "--output-dir", c.tmp_path / "new",
                                          "--password-file", fifo_at(c, "password")], 130),
    Case("policy-check-done", lambda c: ["policy", "check", policy_file(c, c.keys.pub)], 0),
    Case("policy-check-malformed", lambda c: ["policy", "check", policy_file(c, c.tmp_path / "absent.pub")], 2),
    Case("version-done", lambda c: ["version"], 0),
    Case("version-bad-option", lambda c: ["version", "--bogus"], 2),
    Case("sign-done", lambda c: ["sign", c.pack, "--minisign-key", c.keys.key], 0),
    Case("sign-refused", lambda c: ["sign", fifo_in_pack(c), "--minisign-key", c.keys.key], 1),
    Case("sign-missing-key", lambda c: ["sign", c.pack, "--minisign-key", c.tmp_path / "absent.key"], 2),
    Case("sign-missing-bundle", lambda c: ["sign", c.tmp_path / "absent", "--minisign-key", c.keys.key], 2),
    Case("sign-interrupted", lambda c: ["sign", c.pack, "--minisign-key", locked_key(c),
                                        "--password-file", fifo_at(c, "password")], 130),
    Case("attest-done", lambda c: ["attest", c.pack, "--minisign-key", c.keys.key, *SOURCE, *BUILDER], 0),
    Case("attest-refused", lambda c: ["attest", fifo_in_pack(c), "--minisign-key", c.keys.key, *SOURCE, *BUILDER], 1),
    Case("attest-no-builder", lambda c: ["attest", c.pack, "--minisign-key", c.keys.key, *SOURCE], 2),
    Case("attest-abbreviated-commit", lambda c: ["attest", c.pack, "--minisign-key", c.keys.key, *BUILDER,
                                                 "--source-repo", "https://github.com/acme/pack",
                                                 "--source-commit", COMMIT[:7]], 2),
    Case("attest-interrupted", lambda c: ["attest", c.pack, "--minisign-key", locked_key(c), *SOURCE, *BUILDER,
                                          "--password-file", fifo_at(c, "password")], 130),
    Case("lock-add-refused", lambda c: ["lock", "add", tampered_pack(c), "--lock", c.tmp_path / "lock",
                                        "--minisign-pubkey", c.keys.pub], 1),
    Case("lock-add-no-provenance", lambda c: ["lock", "add", signed_pack(c), "--lock", c.tmp_path / "lock",
                                              "--minisign-pubkey", c.keys.pub], 1),
    Case("lock-add-bad-option", lambda c: ["lock", "add", signed_pack(c), "--lock", c.tmp_path / "lock", "--bogus"], 2),
    Case("verify-done", lambda c: ["verify-bundle", signed_pack(c), "--minisign-pubkey", c.keys.pub], 0),
    Case("verify-refused", lambda c: ["verify-bundle", tampered_pack(c), "--minisign-pubkey", c.keys.pub], 1),
    Case("verify-no-key", lambda c: ["verify-bundle", signed_pack(c)], 2),
    # install: --dry-run, so that no audit event is written under the real HOME
    Case("install-done", lambda c: ["install", signed_pack(c), c.tmp_path,
                                    "--minisign-pubkey", c.keys.pub, "--dry-run"], 0),
    Case("install-refused", lambda c: ["install", tampered_pack(c), c.tmp_path,
                                       "--minisign-pubkey", c.keys.pub, "--dry-run"], 1),
    Case("install-no-key", lambda c: ["install", signed_pack(c), c.tmp_path, "--dry-run"], 2),
    Case("install-interrupted", lambda c: ["install", signed_large_pack(c), c.tmp_path,
                                           "--minisign-pubkey", c.keys.pub, "--dry-run"], 130),
    Case("verify-bad-pin-port", lambda c: ["verify-bundle", signed_pack(c), "--minisign-pubkey", c.keys.pub,
                                           "--source-repo", "https://github.com:99999/acme/pack",
                                           "--source-commit", COMMIT], 2),
    Case("verify-interrupted", lambda c: ["verify-bundle", signed_large_pack(c), "--minisign-pubkey", c.keys.pub], 130),
    Case("self-record-done", lambda c: ["self", "record", "--binary", c.keys.pub, "--out", c.tmp_path / "r"], 0),
    Case("self-record-refused", lambda c: ["self", "record", "--binary", fifo_in_pack(c) / "queue",
                                           "--out", c.tmp_path / "r"], 1),
    Case("self-record-no-out", lambda c: ["self", "record", "--binary", c.keys.pub], 2),
    Case("self-record-interrupted", lambda c: ["self", "record", "--binary", c.keys.pub, "--out", c.tmp_path / "r",
                                               "--minisign-key", locked_key(c),
                                               "--password-file", fifo_at(c, "password")], 130),
    Case("self-check-done", lambda c: ["self", "check", "--binary", *recorded_options(c, recorded(c))], 0),
    Case("self-check-refused", lambda c: ["self", "check", "--binary",
                                          *recorded_options(c, changed_after_recording(c))], 1),
    Case("self-check-no-record", lambda c: ["self", "check", "--binary", c.keys.pub], 2),
    Case("self-check-interrupted", lambda c: ["self", "check", "--binary", *recorded_options(
        c, recorded(c, large_file(c, c.tmp_path / "large-daemon")))], 130),
    Case("watch-record-done", lambda c: ["watch", "record", c.tmp_path, "--out", c.tmp_path / "state"], 0),
    Case("watch-record-refused", lambda c: ["watch", "record", (signed_pack(c), fifo_in_pack(c))[1].parent,
                                            "--out", c.tmp_path / "state"], 1),
    Case("watch-record-no-out", lambda c: ["watch", "record", c.tmp_path], 2),
    Case("watch-record-interrupted", lambda c: ["watch", "record", c.pack, "--out", c.tmp_path / "state",
                                                "--minisign-key", locked_key(c),
                                                "--password-file", fifo_at(c, "password")], 130),
    Case("watch-check-done", lambda c: ["watch", "check", *watched(c)], 0),
    Case("watch-check-refused", lambda c: ["watch", "check", *watched(c, then=lambda: tampered_pack(c))], 1),
    Case("watch-check-no-trust", lambda c: ["watch", "check", *watched(c)[:3]], 2),
    Case("watch-check-interrupted", lambda c: ["watch", "check", "--paranoid", *watched(
        c, before=lambda: large_file(c, c.pack / "data" / "large.bin"))], 130),
    Case("audit-verify-done", lambda c: ["audit", "verify", "--log", audit_log(c)], 0),
    Case("audit-verify-refused", lambda c: ["audit", "verify", "--log", audit_log(c, edited=True)], 1),
    Case("audit-verify-bad-option", lambda c: ["audit", "verify", "--log", audit_log(c), "--bogus"], 2),
    Case("audit-show-done", lambda c: ["audit", "show", "--log", audit_log(c)], 0),
    Case("audit-show-refused", lambda c: ["audit", "show", "--log", audit_log(c, edited=True)], 1),
    Case("audit-show-bad-option", lambda c: ["audit", "show", "--log", audit_log(c), "--bogus"], 2),
    Case("audit-head-done", lambda c: ["audit", "head", "--log", audit_log(c), "--out", c.tmp_path / "head"], 0),
    Case("audit-head-refused", lambda c: ["audit", "head", "--log", audit_log(c, edited=True),
                                          "--out", c.tmp_path / "head"], 1),
    Case("audit-head-no-out", lambda c: ["audit", "head", "--log", audit_log(c)], 2),
    Case("audit-head-interrupted", lambda c: ["audit", "head", "--log", audit_log(c), "--out", c.tmp_path / "head",
                                              "--minisign-key", locked_key(c),
                                              "--password-file", fifo_at(c, "password")], 130),
]
# fmt: on


def audit_log(ctx: SimpleNamespace, *, edited: bool = False) -> Path:
    """An audit log of two events; `edited`, its first event's bundle rewritten, which breaks the chain."""
    from signing.audit import AuditEvent, AuditLog

    path = ctx.tmp_path / "audit" / "audit.jsonl"
    for bundle in ("acme-pack", "beta-pack"):
        AuditLog(path).append(AuditEvent("install", bundle, "verified"))
    if edited:
        path.write_bytes(path.read_bytes().replace(b"acme-pack", b"evil-pack", 1))
    return path


def watched(
    ctx: SimpleNamespace, before: Callable[[], object] = lambda: None, then: Callable[[], object] = lambda: None
) -> list:
    """`watch check` arguments for the signed pack's directory: `before`, record (unsigned), then `then`."""
    before()
    directory, state = signed_pack(ctx).parent, ctx.tmp_path / "watch-state"
    result = ctx.cli.packseal("watch", "record", directory, "--out", state)
    assert result.returncode == 0, ctx.cli.describe(result)
    then()
    return [directory, "--state", state, "--allow-unsigned"]


def recorded_options(ctx: SimpleNamespace, binary_and_record: tuple[Path, Path]) -> list:
    binary, record = binary_and_record
    return [binary, "--record", record, "--minisign-pubkey", ctx.keys.pub]


def _reader_waits_on(fifo: Path, process: subprocess.Popen) -> int:
    """Open the FIFO's writing end once the command opens it to read; it then waits for data."""
    while True:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as err:
            if err.errno != errno.ENXIO:
                raise
        assert process.poll() is None, "the command ended before reading the FIFO"
        time.sleep(0.02)


def _stopped_mid_read(path: Path, process: subprocess.Popen) -> None:
    """Return with the command stopped (SIGSTOP) having read `MID` bytes of `path` or more, short of its end.

    Not at its first read: by then the pack's small files are hashed, so
    the interrupt meets only the thread reading this file. From `MID` to
    `LARGE` is minutes of the command's hashing, in which the test need
    only be scheduled once; the position is read again once the command is
    stopped, to prove it still holds the file and has not read all of it.
    """
    while (position := read_position(path, process.pid)) is None or position < MID:
        assert process.poll() is None, "the command ended before reading the large file"
        time.sleep(0.002)
    process.send_signal(signal.SIGSTOP)
    os.waitpid(process.pid, os.WUNTRACED)
    position = read_position(path, process.pid)
    assert position is not None and position < LARGE, "the command read the whole file before it was stopped"


def _interrupt(ctx: SimpleNamespace, args: list) -> subprocess.CompletedProcess:
    assert signal.getsignal(signal.SIGINT) is not signal.SIG_IGN, (
        "SIGINT is ignored in this test run (started in the background by a shell?): the command would inherit that"
    )
    environment = {name: value for name, value in os.environ.items() if name != "PACKSEAL_PASSWORD"}
    ctx.before_start()
    process = subprocess.Popen(
        [str(ctx.cli_path), *map(str, args)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    held = None
    try:
        held = ctx.wait_for(process)
        process.send_signal(signal.SIGINT)
        process.send_signal(signal.SIGCONT)  # a stopped command, it takes the SIGINT as it resumes
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
        if isinstance(held, int):
            os.close(held)
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)


@pytest.fixture
def ctx(tmp_path, cli, keys, key_store, pack) -> SimpleNamespace:
    return SimpleNamespace(
        tmp_path=tmp_path,
        cli=cli,
        keys=keys,
        key_store=key_store,
        pack=pack,
        cli_path=PACKSEAL,
        before_start=lambda: None,
    )


def _marks(case: Case) -> list:
    return [pytest.mark.slow] if case.exit == 130 else []


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=_marks(c)) for c in CASES])
def test_every_command_exits_by_the_same_table(case: Case, ctx: SimpleNamespace) -> None:
    args = case.setup(ctx)

    result = _interrupt(ctx, args) if case.exit == 130 else ctx.cli.packseal(*args)

    shown = ctx.cli.describe(result)
    assert result.returncode == case.exit, shown
    assert "Traceback" not in result.stderr, shown
    if case.exit in (2, 130):
        assert result.stderr.strip().splitlines()[-1].startswith("packseal: error: "), shown
    if case.exit == 130:
        assert "interrupted" in result.stderr, shown


def test_every_command_is_in_the_table() -> None:
    from signing.cli import ENVIRONMENT_OPTIONS

    for command in ENVIRONMENT_OPTIONS:
        prefix = command.replace("verify-bundle", "verify").replace(" ", "-")
        exits = {case.exit for case in CASES if case.id.startswith(prefix + "-")}
        # `audit verify` and `audit show` read only a log whose every line is bounded: nothing to interrupt.
        expected = {
            "keygen": {0, 2, 130},
            "version": {0, 2},
            "lock add": {1, 2},
            "policy check": {0, 2},
            "audit verify": {0, 1, 2},
            "audit show": {0, 1, 2},
        }.get(command, {0, 1, 2, 130})
        assert exits == expected, command


@pytest.mark.parametrize(
    "args",
    [
        ["verify-bundle", "{tmp}/absent", "--minisign-pubkey", "{pub}", "--json"],
        ["verify-bundle", "{tmp}", "--json", "--minisign-pubkey", "{tmp}/absent.pub"],
        ["self", "check", "--json", "--binary", "{pub}"],
    ],
    ids=["missing-bundle", "missing-key", "missing-option"],
)
def test_json_asked_wrongly_prints_one_json_object_too(args: list[str], tmp_path: Path, keys, cli) -> None:
    result = cli.packseal(*(arg.format(tmp=tmp_path, pub=keys.pub) for arg in args))

    assert result.returncode == 2, cli.describe(result)
    answer = json_output.parse(result.stdout)
    assert (answer["verified"], answer["exit_code"]) == (False, 2)
    assert answer["error"] in result.stderr
    assert result.stderr.startswith("packseal: error: "), cli.describe(result)
