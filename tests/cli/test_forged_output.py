"""Untrusted names cannot forge lines of packseal's human output.

A file name, a bundle path or a record holding a newline, ESC, a C1 control,
U+2028/U+2029 or a bidi override would otherwise print raw: a crafted name
then shows `[ok] files: all good` and `VERIFIED` on the installer's
terminal, erases the real line with `ESC[2K`, or reverses what follows.
Every such character is shown escaped (`\\n`, `\\x1b`, `\\u202e`), so a
refusal keeps its line count, and JSON output escapes them too.
"""

from __future__ import annotations

import subprocess
import unicodedata
from pathlib import Path

import json_output
import pytest

FORGING_NAMES = {
    "newline": "x\n  [ok] files: all good\nVERIFIED",
    "escape": "x\x1b[2K\x1b[1AVERIFIED",
    "c1-next-line": "x\x85VERIFIED",
    "c1-csi": "x\x9b2K",
    "line-separator": "x\u2028VERIFIED",
    "paragraph-separator": "x\u2029VERIFIED",
    "right-to-left-override": "\u202egpj.exe",
    "right-to-left-isolate": "x\u2067evil\u2069",
    "zero-width": "READ\u200bME.md",
}
SOURCE = [
    "--source-repo",
    "https://github.com/acme/pack",
    "--source-commit",
    "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
    "--builder-id",
    "https://ci.example.com/builders/release",
]
HIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def raw_hidden(text: str) -> list[str]:
    """Characters of text that a terminal would not show as themselves (line breaks aside)."""
    return [char for char in text if char != "\n" and unicodedata.category(char) in HIDDEN_CATEGORIES]


def assert_no_forged_line(text: str) -> None:
    assert not raw_hidden(text), (raw_hidden(text), text)
    for line in text.splitlines():
        assert not line.startswith("VERIFIED"), text
        assert not line.lstrip().startswith("[ok] files"), text


@pytest.fixture
def refusal_of(signed_pack: Path, keys, cli):
    """Add one file named `name` to the signed pack; the refusal verify-bundle prints."""

    def refuse(name: str, *extra: str):
        added = signed_pack / name
        added.write_text("added after signing\n")
        try:
            result = cli.verify(signed_pack, keys.pub, extra=extra)
        finally:
            added.unlink()
        assert result.returncode == 1, cli.describe(result)
        assert "Traceback" not in result.stderr, cli.describe(result)
        return result

    return refuse


@pytest.mark.parametrize("name", FORGING_NAMES.values(), ids=FORGING_NAMES.keys())
def test_a_crafted_file_name_cannot_forge_verdict_lines(name: str, refusal_of) -> None:
    plain = refusal_of("x")
    crafted = refusal_of(name)

    assert_no_forged_line(crafted.stdout)
    assert crafted.stdout.startswith("REFUSED ")
    assert len(crafted.stdout.splitlines()) == len(plain.stdout.splitlines()), crafted.stdout


@pytest.mark.parametrize("name", FORGING_NAMES.values(), ids=FORGING_NAMES.keys())
def test_json_output_escapes_them_too_and_keeps_the_name(name: str, refusal_of) -> None:
    result = refusal_of(name, "--json")

    assert not raw_hidden(result.stdout), result.stdout
    assert result.stdout.isascii()
    detail = json_output.parse(result.stdout)["checks"][-1]["detail"]
    assert name in detail or repr(name)[1:-1] in detail, detail


def test_escaping_is_visible_and_unambiguous(refusal_of) -> None:
    newline = refusal_of("a\nb").stdout
    backslash_n = refusal_of("a\\nb").stdout

    assert "\\u202e" in refusal_of("\u202eevil").stdout
    assert "\\x1b" in refusal_of("\x1b[2K").stdout
    assert newline != backslash_n


@pytest.mark.parametrize("command", ["sign", "verify-bundle", "attest"])
@pytest.mark.parametrize("name", FORGING_NAMES.values(), ids=FORGING_NAMES.keys())
def test_an_error_line_stays_one_line(command: str, name: str, tmp_path: Path, keys, cli) -> None:
    missing = tmp_path / name
    options = {
        "sign": ["--minisign-key", keys.key],
        "attest": ["--minisign-key", keys.key, *SOURCE],
        "verify-bundle": ["--minisign-pubkey", keys.pub],
    }

    result = cli.packseal(command, missing, *options[command])

    assert result.returncode == 2, cli.describe(result)
    assert len(result.stderr.splitlines()) == 1, cli.describe(result)
    assert result.stderr.startswith("packseal: error: "), cli.describe(result)
    assert_no_forged_line(result.stderr)


@pytest.mark.parametrize("name", FORGING_NAMES.values(), ids=FORGING_NAMES.keys())
def test_self_check_output_keeps_its_lines(name: str, tmp_path: Path, cli) -> None:
    def record_and_check(binary_name: str) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
        binary = tmp_path / binary_name
        binary.write_bytes(b"\x7fELF not really\n")
        record = tmp_path / f"record-{len(binary_name)}.json"
        recorded = cli.packseal("self", "record", "--binary", binary, "--out", record)
        assert recorded.returncode == 0, cli.describe(recorded)
        checked = cli.packseal("self", "check", "--record", record, "--binary", binary, "--allow-unsigned")
        assert checked.returncode == 0, cli.describe(checked)
        return recorded, checked

    plain = record_and_check("plain")
    forged = record_and_check(name)

    for plain_output, forged_output in zip(plain, forged, strict=True):
        assert len(forged_output.stdout.splitlines()) == len(plain_output.stdout.splitlines()), forged_output.stdout
        assert_no_forged_line(forged_output.stdout)
