"""Property: any single-byte change to a signed bundle makes verify-bundle refuse.

"Any byte" covers every bundle file, every link target, `.packseal/manifest.json`
and the signature file. The one carve-out is the signature's first line: the
minisign format leaves the untrusted comment unauthenticated by design.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.slow

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _targets(bundle: Path, signature: Path) -> list[tuple[str, int]]:
    """(relative path, first byte offset that may change) for every target."""
    targets = []
    for path in sorted(bundle.rglob("*")):
        if path == signature:
            untrusted_comment = path.read_bytes().index(b"\n") + 1
            targets.append((path.relative_to(bundle).as_posix(), untrusted_comment))
        elif path.is_symlink() or (path.is_file() and path.stat().st_size > 0):
            targets.append((path.relative_to(bundle).as_posix(), 0))
    return targets


def _flip_byte(path: Path, offset_seed: int, first: int, xor: int) -> tuple[int, bytes]:
    """Change one byte of a file, or of a link's target; return what to restore."""
    data = os.fsencode(os.readlink(path)) if path.is_symlink() else path.read_bytes()
    offset = first + offset_seed % (len(data) - first)
    changed = bytearray(data)
    changed[offset] ^= xor
    assume(not path.is_symlink() or changed[offset] != 0)  # a link target cannot hold NUL
    if path.is_symlink():
        path.unlink()
        path.symlink_to(os.fsdecode(bytes(changed)))
    else:
        path.write_bytes(bytes(changed))
    return offset, data


def _restore(path: Path, data: bytes) -> None:
    if path.is_symlink():
        path.unlink()
        path.symlink_to(os.fsdecode(data))
    else:
        path.write_bytes(data)


@pytest.fixture(scope="module")
def signed_bundles(key_store, cli):
    """One signed directory bundle and one signed file, shared by the examples."""
    keys = key_store("trusted")
    root = Path(tempfile.mkdtemp(prefix="packseal-tamper-"))
    pack = cli.build_pack(root / "pack")
    cli.sign_ok(pack, keys)
    single = root / "file" / "tool.bin"
    single.parent.mkdir()
    single.write_bytes(bytes(range(256)) * 3)
    cli.sign_ok(single, keys)
    yield (
        {
            "dir": (pack, pack, pack / cli.MANIFEST_SIG),
            "file": (single.parent, single, single.with_name(single.name + ".minisig")),
        },
        keys,
    )
    shutil.rmtree(root)


def _check_property(kind, signed_bundles, cli, data) -> None:
    bundles, keys = signed_bundles
    root, bundle, signature = bundles[kind]
    rel, first = data.draw(st.sampled_from(_targets(root, signature)), label="target")
    offset_seed = data.draw(st.integers(min_value=0, max_value=2**32), label="offset seed")
    xor = data.draw(st.integers(min_value=1, max_value=255), label="xor")
    path = root / rel
    offset, original = _flip_byte(path, offset_seed, first, xor)
    try:
        result = cli.verify(bundle, keys.pub)
        assert result.returncode == 1, f"byte {offset} of {rel} xor {xor:#04x} was accepted\n{cli.describe(result)}"
        assert result.stdout.startswith("REFUSED"), cli.describe(result)
    finally:
        _restore(path, original)


def test_untouched_bundles_verify(signed_bundles, cli):
    bundles, keys = signed_bundles
    for _, bundle, _ in bundles.values():
        assert cli.verify(bundle, keys.pub).returncode == 0


@SETTINGS
@given(data=st.data())
def test_any_single_byte_change_to_a_directory_bundle_is_refused(signed_bundles, cli, data):
    _check_property("dir", signed_bundles, cli, data)


@settings(SETTINGS, max_examples=20)
@given(data=st.data())
def test_any_single_byte_change_to_a_signed_file_is_refused(signed_bundles, cli, data):
    _check_property("file", signed_bundles, cli, data)


def _flip_padding_bits(lines: list[bytes], index: int) -> None:
    """Change the last base64 digit before `=` in a way that decodes to the same bytes."""
    line = lines[index]
    position = line.index(b"=") - 1
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    lines[index] = line[:position] + bytes([alphabet[alphabet.index(line[position]) ^ 1]]) + line[position + 1 :]


def _newline_to_cr(lines: list[bytes], index: int) -> None:
    lines[index] = lines[index] + b"\r" + lines.pop(index + 1)


@pytest.mark.parametrize(
    ("edit", "index"),
    [
        (_flip_padding_bits, 1),
        (_flip_padding_bits, 3),
        (_newline_to_cr, 0),
        (_newline_to_cr, 1),
        (_newline_to_cr, 2),
        (_newline_to_cr, 3),
    ],
    ids=[
        "signature-padding-bits",
        "global-signature-padding-bits",
        "cr-after-untrusted-comment",
        "cr-after-signature",
        "cr-after-trusted-comment",
        "cr-at-end",
    ],
)
def test_single_byte_changes_that_keep_the_decoded_signature_are_refused_too(signed_bundles, cli, edit, index):
    """The byte changes random examples rarely hit: the encoding, not the content.

    Each one leaves the decoded key id, signature and trusted comment as they
    were, so only a strict reader (canonical base64, `\\n` line ends) refuses.
    """
    bundles, keys = signed_bundles
    _, bundle, signature = bundles["file"]
    original = signature.read_bytes()
    lines = original.split(b"\n")
    edit(lines, index)
    changed = b"\n".join(lines)
    assert len(changed) == len(original) and sum(a != b for a, b in zip(changed, original, strict=True)) == 1
    signature.write_bytes(changed)
    try:
        result = cli.verify(bundle, keys.pub)
    finally:
        signature.write_bytes(original)

    assert result.returncode == 1, cli.describe(result)
