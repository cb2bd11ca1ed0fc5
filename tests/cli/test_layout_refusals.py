"""What verification would refuse, `sign` and `attest` refuse first; `verify-bundle` takes no signature for a bundle.

Each refusal is one line naming the problem and the path, a non-zero exit,
and the whole test directory byte for byte as it was.
"""

from __future__ import annotations

import base64
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest
from trees import tree_with_a_manifest_over_the_limit

EXIT_FAILED = 1
EXIT_USAGE = 2
ATTEST_SOURCE = (
    "--source-repo", "https://github.com/acme/pack",
    "--source-commit", "0123456789abcdef0123456789abcdef01234567",
    "--builder-id", "https://example.test/builder",
)  # fmt: skip


def _write(command: str, bundle: Path, keys, cli) -> CompletedProcess:
    extra = ATTEST_SOURCE if command == "attest" else ()
    return cli.packseal(command, bundle, "--minisign-key", keys.key, *extra)


def _assert_one_error_line(result: CompletedProcess, code: int, *names: str, cli: Any) -> str:
    shown = cli.describe(result)
    assert result.returncode == code, shown
    assert "Traceback" not in result.stdout + result.stderr, shown
    assert "VERIFIED" not in result.stdout, shown
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("packseal: error: "), shown
    for name in names:
        assert name in lines[0], (name, shown)
    return lines[0]


# --- sign and attest refuse before writing -------------------------------------------------


@pytest.mark.parametrize("command", ["sign", "attest"])
def test_a_signature_dir_linked_outside_the_bundle_is_refused_and_nothing_is_written(
    pack, keys, tmp_path, cli, command
):
    outside = tmp_path / "someone-elses"
    outside.mkdir()
    (outside / "manifest.json.minisig").write_bytes(b"not packseal's; must survive\n")
    (pack / ".packseal").symlink_to(outside)
    before = cli.snapshot(tmp_path)

    result = _write(command, pack, keys, cli)

    _assert_one_error_line(result, EXIT_FAILED, ".packseal", "symlink", cli=cli)
    assert cli.snapshot(tmp_path) == before


@pytest.mark.parametrize("command", ["sign", "attest"])
def test_a_leftover_of_an_interrupted_sign_is_named_for_removal_as_verify_would_name_it(
    signed_pack, keys, tmp_path, cli, command
):
    leftover = signed_pack / ".packseal" / ".manifest.json.k3x9q_2a.tmp"
    leftover.write_bytes(b'{"_type": "half a manif')
    before = cli.snapshot(tmp_path)

    result = _write(command, signed_pack, keys, cli)

    line = _assert_one_error_line(result, EXIT_FAILED, f".packseal/{leftover.name}", "remove it", cli=cli)
    assert cli.snapshot(tmp_path) == before
    _, verdict = cli.verify_json(signed_pack, keys.pub)
    refusal = cli.assert_refused_at(verdict, "layout")["detail"]
    assert refusal in line, "sign and verify apply one rule, in the same words"


@pytest.mark.parametrize("name", ["manifest.sigstore.json", "manifest.json.minisig"])
def test_resigning_over_a_signature_name_that_is_a_directory_changes_nothing(signed_pack, keys, tmp_path, cli, name):
    (signed_pack / ".packseal" / name).unlink(missing_ok=True)
    (signed_pack / ".packseal" / name).mkdir()
    (signed_pack / "README.md").write_bytes(b"# a new release, so a new manifest\n")
    before = cli.snapshot(tmp_path)

    result = _write("sign", signed_pack, keys, cli)

    _assert_one_error_line(result, EXIT_FAILED, f".packseal/{name}", "not a regular file", cli=cli)
    assert cli.snapshot(tmp_path) == before


@pytest.mark.slow  # 17,600 files since the limit became 64 MiB (issue 13)
def test_a_bundle_whose_manifest_verify_would_refuse_as_too_large_is_not_signed(tmp_path, keys, cli):
    pack = tree_with_a_manifest_over_the_limit(tmp_path / "pack")
    before = cli.snapshot(tmp_path)

    result = _write("sign", pack, keys, cli)

    _assert_one_error_line(result, EXIT_FAILED, "pack", "byte limit", cli=cli)
    assert cli.snapshot(tmp_path) == before


@pytest.mark.parametrize("name", ["CON", "con.txt", "NUL", "COM1", "LPT9.log", "run.bat.", "run.bat ", "a:b", "a?b"])
def test_a_name_windows_cannot_hold_is_not_signed(pack, keys, tmp_path, cli, name):
    (pack / "docs" / name).write_bytes(b"fine on Linux, not on Windows\n")
    before = cli.snapshot(tmp_path)

    result = _write("sign", pack, keys, cli)

    _assert_one_error_line(result, EXIT_FAILED, f"docs/{name}", "Windows", cli=cli)
    assert cli.snapshot(tmp_path) == before


@pytest.mark.parametrize("name", ["CON", "run.bat.", "run.bat ", "a:b"])
def test_a_signed_manifest_naming_what_windows_cannot_hold_is_refused(signed_pack, keys, cli, name):
    def rename(entries: list) -> None:
        cli.entry_for(entries, "README.md")["path"] = name

    cli.craft_manifest(signed_pack, keys, rename)
    (signed_pack / "README.md").rename(signed_pack / name)

    result, verdict = cli.verify_json(signed_pack, keys.pub)

    assert result.returncode == EXIT_FAILED, cli.describe(result)
    failed = cli.assert_refused_at(verdict, "statement")
    assert repr(name) in failed["detail"] and "Windows" in failed["detail"], failed


# --- verify-bundle ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "inside", [".packseal/manifest.json", ".packseal/manifest.json.minisig", ".packseal"], ids=lambda p: p
)
def test_a_path_inside_the_signature_dir_is_not_a_bundle(signed_pack, keys, tmp_path, cli, inside):
    """The README shows `minisign -Vm PACK/.packseal/manifest.json`; the same path given to packseal must not pass."""
    (signed_pack / "README.md").write_bytes(b"# tampered after signing\n")
    before = cli.snapshot(tmp_path)

    result = cli.verify(signed_pack / inside, keys.pub)

    _assert_one_error_line(result, EXIT_USAGE, inside, "holds signatures, not bundles", cli=cli)
    assert cli.snapshot(tmp_path) == before


def _public_key_file(path: Path, key_id_of: Path, key_of: Path) -> Path:
    """A public key file with `key_of`'s Ed25519 key under `key_id_of`'s key id."""

    def raw(pub: Path) -> bytes:
        return base64.b64decode(pub.read_text().splitlines()[1])

    labelled = raw(key_of)[:2] + raw(key_id_of)[2:10] + raw(key_of)[10:]
    path.write_text(f"untrusted comment: relabelled\n{base64.b64encode(labelled).decode()}\n")
    return path


def test_two_different_trusted_keys_with_one_key_id_are_a_usage_error(signed_pack, keys, other_keys, tmp_path, cli):
    relabelled = _public_key_file(tmp_path / "relabelled.pub", keys.pub, other_keys.pub)

    for order in ((keys.pub, relabelled), (relabelled, keys.pub)):
        result = cli.verify(signed_pack, *order)
        line = _assert_one_error_line(result, EXIT_USAGE, "key id", cli=cli)
        assert cli.names_key_id(line, keys.pub), cli.describe(result)


def test_the_same_trusted_key_given_twice_is_accepted(signed_pack, keys, cli):
    result = cli.verify(signed_pack, keys.pub, keys.pub)
    assert result.returncode == 0, cli.describe(result)
