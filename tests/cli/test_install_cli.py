"""`packseal install`: the trust summary before landing, --dry-run, --json, refusals with DEST unchanged."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import json_output
import pytest
from proc_files import read_position
from trees import snapshot


def signed(run_packseal, pack, key) -> None:
    result = run_packseal("sign", pack, "--minisign-key", key.key)
    assert result.returncode == 0, result.stderr


def policy_file(tmp_path, key) -> str:
    path = tmp_path / "trust.toml"
    path.write_text(f'[[publisher]]\nname = "acme"\nbundles = ["pack"]\nminisign_keys = ["{key.pub}"]\n')
    return str(path)


def test_install_prints_the_trust_summary_then_lands(tmp_path, pack, key_store, run_packseal):
    key = key_store("trusted")
    signed(run_packseal, pack, key)
    dest = tmp_path / "plugins"
    dest.mkdir()
    env = {"PACKSEAL_HOME": str(tmp_path / "home")}

    result = run_packseal("install", pack, dest, "--policy", policy_file(tmp_path, key), env=env)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"VERIFIED pack from {pack}" and lines[1] == "  publisher  acme"
    assert lines[-1].startswith(f"INSTALLED pack at {dest / 'pack'}")
    assert snapshot(dest / "pack") == snapshot(pack)


def test_dry_run_json_validates_and_writes_nothing(tmp_path, pack, key_store, run_packseal):
    key = key_store("trusted")
    signed(run_packseal, pack, key)
    dest = tmp_path / "plugins"
    dest.mkdir()

    result = run_packseal("install", pack, dest, "--minisign-pubkey", key.pub, "--dry-run", "--json",
                          env={"PACKSEAL_HOME": str(tmp_path / "home")})  # fmt: skip

    assert result.returncode == 0, result.stderr
    document = json_output.parse(result.stdout)
    assert (document["dry_run"], document["installed"], document["record"]) == (True, False, None)
    assert list(dest.iterdir()) == [] and not (tmp_path / "home").exists()


def test_a_refused_install_exits_1_and_leaves_dest_unchanged(tmp_path, pack, key_store, run_packseal):
    key = key_store("trusted")
    signed(run_packseal, pack, key)
    (pack / "README.md").write_bytes(b"tampered\n")
    dest = tmp_path / "plugins"
    dest.mkdir()
    (dest / "other").mkdir()
    before = snapshot(dest / "other")

    result = run_packseal("install", pack, dest, "--policy", policy_file(tmp_path, key), "--json",
                          env={"PACKSEAL_HOME": str(tmp_path / "home")})  # fmt: skip

    assert result.returncode == 1, result.stderr
    assert json_output.parse(result.stdout)["checks"][-1]["name"] == "files"
    assert result.stderr.strip() == f"packseal: error: {pack}: refused at files: changed: README.md"
    assert [path.name for path in dest.iterdir()] == ["other"]
    assert snapshot(dest / "other") == before


def test_policy_with_other_trust_options_is_a_usage_error(tmp_path, pack, key_store, run_packseal):
    key = key_store("trusted")
    result = run_packseal(
        "install", pack, tmp_path, "--policy", policy_file(tmp_path, key), "--minisign-pubkey", key.pub
    )

    assert result.returncode == 2, result.stderr
    assert "--policy excludes --minisign-pubkey: the policy file says whom to trust" in result.stderr


def test_max_bytes_bounds_a_directory_source_as_it_copies(tmp_path, pack, key_store, run_packseal):
    """A sparse file 2 GiB long is refused at 1 MiB copied, in one line, and DEST is as it was."""
    key = key_store("trusted")
    signed(run_packseal, pack, key)
    with (pack / "huge.bin").open("wb") as huge:
        huge.truncate(2 * 1024**3)
    dest = tmp_path / "plugins"
    dest.mkdir()
    (dest / "other").mkdir()
    before = snapshot(dest / "other")

    result = run_packseal("install", pack, dest, "--policy", policy_file(tmp_path, key), "--max-bytes", "1048576",
                          env={"PACKSEAL_HOME": str(tmp_path / "home")})  # fmt: skip

    assert result.returncode == 1, result.stderr
    assert result.stderr == f"packseal: error: {pack}: more than 1048576 bytes to copy (--max-bytes); refused\n"
    assert sorted(path.name for path in dest.iterdir()) == ["other"]
    assert snapshot(dest / "other") == before


@pytest.mark.slow
@pytest.mark.parametrize("sent", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=["SIGTERM", "SIGHUP", "SIGINT"])
def test_a_signal_while_an_install_copies_leaves_dest_as_it_was(tmp_path, pack, key_store, run_packseal, sent):
    """`kill` (SIGTERM) or a closed terminal (SIGHUP) is an interrupt like Ctrl-C: staging goes.

    The source holds a file signed empty, grown (sparse) just before the
    install starts: the install is stopped while it copies it, well short
    of its end (and `--max-bytes` bounds what a missed stop could write).
    """
    key = key_store("trusted")
    large = pack / "data" / "large.bin"
    large.parent.mkdir(parents=True, exist_ok=True)
    large.touch()
    signed(run_packseal, pack, key)
    os.truncate(large, 1024**3)
    dest = tmp_path / "plugins"
    dest.mkdir()
    (dest / "kept.txt").write_bytes(b"the user's own\n")
    before = snapshot(dest)
    environment = {**os.environ, "PACKSEAL_HOME": str(tmp_path / "home")}
    command = [Path(sys.executable).parent / "packseal", "install", pack, dest, "--minisign-pubkey", key.pub]
    command += ["--max-bytes", str(1024**3 + 4096)]
    pipes = {"stdin": subprocess.DEVNULL, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    process = subprocess.Popen(command, env=environment, text=True, **pipes)
    try:
        while (position := read_position(large, process.pid)) is None or position < 8 * 1024**2:
            assert process.poll() is None, "the install ended before it copied the large file"
            time.sleep(0.002)
        process.send_signal(signal.SIGSTOP)
        os.waitpid(process.pid, os.WUNTRACED)
        assert (read_position(large, process.pid) or 0) < 1024**3, "the install copied the whole file before it stopped"
        assert any((dest / ".packseal-installs").glob("stage-*")), "stopped while it stages"
        process.send_signal(sent)
        process.send_signal(signal.SIGCONT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert snapshot(dest) == before
    assert process.returncode == 130 and stderr.endswith("packseal: error: interrupted\n"), stderr
