"""Verification's reader of minisign files agrees with py-minisign and stock minisign; it is stricter only in encoding.

`signing.backends.minisign_files` replaces py-minisign on the verifying
path (for start-up time). Each test holds it against the two references:
files and signatures made by Debian's stock `minisign` (prehashed and
legacy), and py-minisign's own parser and verifier on the same bytes.
"""

import base64
import io
import subprocess

import minisign
import pytest

from signing.backends.minisign_files import LEGACY_MAX_BYTES, SignatureFile, VerifyingKey
from signing.digest import DigestingReader
from signing.errors import KeyFileError, SignatureError

MINISIGN = "/usr/bin/minisign"
CONTENT = b"the signed bytes\n"


@pytest.fixture(scope="module")
def stock(tmp_path_factory):
    """A stock minisign key pair, a file, and its prehashed and legacy (-l) signatures."""
    directory = tmp_path_factory.mktemp("stock")
    public, secret, signed = directory / "k.pub", directory / "k.key", directory / "file"
    subprocess.run([MINISIGN, "-G", "-W", "-p", public, "-s", secret], check=True, capture_output=True)
    signed.write_bytes(CONTENT)
    signatures = {}
    for name, extra in (("prehashed", []), ("legacy", ["-l"])):
        out = directory / f"{name}.minisig"
        command = [MINISIGN, "-S", "-s", secret, "-m", signed, "-x", out, "-t", f"{name} comment", *extra]
        subprocess.run(command, check=True, capture_output=True)
        signatures[name] = out.read_bytes()
    return public.read_bytes(), signatures


def _py_minisign_accepts(kind, data: bytes) -> bool:
    try:
        kind.from_bytes(data)
    except minisign.Error:
        return False
    return True


def _public_key_variants(data: bytes) -> dict[str, bytes]:
    comment, encoded = data.splitlines()
    raw = base64.b64decode(encoded)
    return {
        "stock": data,
        "no final newline": data.rstrip(b"\n"),
        "CRLF": data.replace(b"\n", b"\r\n"),
        "prehashed algorithm": comment + b"\n" + base64.b64encode(b"ED" + raw[2:]) + b"\n",
        "unknown algorithm": comment + b"\n" + base64.b64encode(b"XX" + raw[2:]) + b"\n",
        "short": comment + b"\n" + base64.b64encode(raw[:-1]) + b"\n",
        "not base64": comment + b"\n" + encoded[:-2] + b"!!\n",
        "no comment prefix": b"comment: x\n" + encoded + b"\n",
        "comment not UTF-8": b"untrusted comment: \xff\n" + encoded + b"\n",
        "three lines": data + b"extra\n",
        "empty": b"",
    }


def test_a_public_key_is_read_exactly_when_py_minisign_reads_it(stock) -> None:
    public, _ = stock
    for name, data in _public_key_variants(public).items():
        expected = _py_minisign_accepts(minisign.PublicKey, data)
        try:
            key = VerifyingKey.from_bytes(data, what="k.pub")
        except KeyFileError as err:
            assert str(err).startswith("k.pub: not a minisign public key ("), err
            assert not expected, name
            continue
        assert expected, name
        reference = minisign.PublicKey.from_bytes(data)
        assert (key.key_number, key.ed25519) == (reference._keynum_pk.key_id, reference._keynum_pk.public_key), name


def test_the_key_id_is_the_one_stock_minisign_prints(stock) -> None:
    public, _ = stock
    printed = public.decode().splitlines()[0].rsplit(" ", 1)[1]
    assert VerifyingKey.from_bytes(public, what="k.pub").key_id == printed.lstrip("0")


@pytest.mark.parametrize("kind", ["prehashed", "legacy"])
@pytest.mark.parametrize("as_stream", [False, True], ids=["bytes", "stream"])
def test_stock_signatures_verify_as_py_minisign_decides(stock, kind: str, as_stream: bool) -> None:
    public, signatures = stock
    key, reference_key = VerifyingKey.from_bytes(public, what="k.pub"), minisign.PublicKey.from_bytes(public)
    signature = SignatureFile.from_bytes(signatures[kind], what="f.minisig")
    reference = minisign.Signature.from_bytes(signatures[kind])
    assert signature.trusted_comment == reference.trusted_comment == f"{kind} comment"
    assert (signature.algorithm == b"ED") is reference.is_prehashed()

    for content, verifies in ((CONTENT, True), (CONTENT + b"x", False), (b"", False)):
        given = DigestingReader(io.BytesIO(content)) if as_stream else content
        assert signature.verifies(key, given) is verifies, content
        try:
            reference_key.verify(content, reference)
        except minisign.Error:
            assert not verifies
        else:
            assert verifies


def _reencoded(signature: bytes, line: int, edit) -> bytes:
    lines = signature.rstrip(b"\n").split(b"\n")
    lines[line] = edit(lines[line])
    return b"\n".join(lines) + b"\n"


def test_a_changed_trusted_comment_or_signature_does_not_verify(stock) -> None:
    public, signatures = stock
    key = VerifyingKey.from_bytes(public, what="k.pub")
    comment = _reencoded(signatures["prehashed"], 2, lambda line: line + b" and more")
    raw = base64.b64decode(signatures["prehashed"].split(b"\n")[1])
    flipped = raw[:-1] + bytes([raw[-1] ^ 1])
    signature = _reencoded(signatures["prehashed"], 1, lambda _: base64.b64encode(flipped))

    assert not SignatureFile.from_bytes(comment, what="f.minisig").verifies(key, CONTENT)
    assert not SignatureFile.from_bytes(signature, what="f.minisig").verifies(key, CONTENT)


def test_another_key_with_the_same_key_number_does_not_verify(stock, tmp_path) -> None:
    public, signatures = stock
    other = tmp_path / "other.pub"
    subprocess.run([MINISIGN, "-G", "-W", "-p", other, "-s", tmp_path / "other.key"], check=True, capture_output=True)
    number = VerifyingKey.from_bytes(public, what="k.pub").key_number
    impostor = VerifyingKey(number, VerifyingKey.from_bytes(other.read_bytes(), what="k.pub").ed25519)

    assert not SignatureFile.from_bytes(signatures["prehashed"], what="f.minisig").verifies(impostor, CONTENT)


def test_a_signature_is_read_only_in_minisign_s_exact_encoding(stock) -> None:
    """Each refused form is one py-minisign would parse, or one whose re-encoding differs from the bytes."""
    _, signatures = stock
    data = signatures["prehashed"]
    line1 = data.split(b"\n")[1]
    padded = line1[:-2] + bytes([line1[-2] + 1]) + line1[-1:]  # 74 bytes: one "=", two padding bits before it
    accepted = {"stock": data, "no final newline": data.rstrip(b"\n")}
    refused = {
        "CRLF": data.replace(b"\n", b"\r\n"),
        "bare CR": data.replace(b"\n", b"\r", 1),
        "two final newlines": data + b"\n",
        "trailing bytes": data + b"more",
        "five lines": data + b"x\n",
        "unknown algorithm": _reencoded(data, 1, lambda line: base64.b64encode(b"XX" + base64.b64decode(line)[2:])),
        "global signature not base64": _reencoded(data, 3, lambda line: line[:-1] + b"*"),
        "no trusted comment prefix": _reencoded(data, 2, lambda line: b"comment: x"),
    }
    assert base64.b64decode(padded) == base64.b64decode(line1) and padded != line1
    refused["non-zero padding bits"] = _reencoded(data, 1, lambda _: padded)

    for name, variant in accepted.items():
        assert SignatureFile.from_bytes(variant, what="f.minisig").trusted_comment == "prehashed comment", name
    for name, variant in refused.items():
        with pytest.raises(SignatureError, match=r"^f\.minisig: not a minisign signature in minisign's exact encoding"):
            SignatureFile.from_bytes(variant, what="f.minisig")
            pytest.fail(f"accepted: {name}")


class _Zeros:
    """A stream of `size` zero bytes that counts what was read from it."""

    def __init__(self, size: int) -> None:
        self.left, self.read_bytes = size, 0

    def read(self, size: int = -1, /) -> bytes:
        count = self.left if size < 0 else min(size, self.left)
        self.left -= count
        self.read_bytes += count
        return bytes(count)


def _forged(algorithm: bytes, key: VerifyingKey) -> SignatureFile:
    """What anyone can write: a trusted key's (public) key number and signatures of their own bytes."""
    return SignatureFile(algorithm, key.key_number, b"\x01" * 64, "forged", b"\x02" * 64)


def test_a_legacy_signature_never_makes_verification_hold_a_large_file_in_memory(stock) -> None:
    """Ed25519 without prehashing needs the whole content at once: a forged legacy signature beside a 2 GiB
    download made the verifier read all of it into memory (twice, joined) before refusing it."""
    key = VerifyingKey.from_bytes(stock[0], what="k.pub")
    large = _Zeros(LEGACY_MAX_BYTES + 16 * 1024 * 1024)
    with pytest.raises(SignatureError, match=r"legacy \(non-prehashed\) signature over more than 32 MiB"):
        _forged(b"Ed", key).verifies(key, large)
    assert large.read_bytes <= LEGACY_MAX_BYTES + 64 * 1024

    prehashed = _Zeros(LEGACY_MAX_BYTES + 16 * 1024 * 1024)
    assert not _forged(b"ED", key).verifies(key, prehashed)  # streamed: any size, in constant memory
    assert prehashed.left == 0


def test_a_forged_legacy_signature_beside_a_large_file_is_refused_naming_it(stock, tmp_path) -> None:
    from signing.backends.minisign import MinisignKeyring
    from signing.policy import TrustPolicy
    from signing.verify import verify_bundle

    public, _ = stock
    (tmp_path / "k.pub").write_bytes(public)
    key = VerifyingKey.from_bytes(public, what="k.pub")
    release = tmp_path / "release.bin"
    with release.open("wb") as sparse:
        sparse.truncate(LEGACY_MAX_BYTES + 1)
    signed = base64.b64encode(b"Ed" + key.key_number + b"\x01" * 64)
    signature = b"untrusted comment: x\n" + signed + b"\ntrusted comment: x\n" + base64.b64encode(b"\x02" * 64) + b"\n"
    (tmp_path / "release.bin.minisig").write_bytes(signature)

    verdict = verify_bundle(release, TrustPolicy((MinisignKeyring.from_files([tmp_path / "k.pub"]),)))

    assert verdict.refusal.name == "signature"
    assert verdict.refusal.detail.startswith(f"{tmp_path / 'release.bin.minisig'}: a legacy (non-prehashed) signature")


def _stock_verifies(directory, public: bytes, signature: bytes) -> bool:
    (directory / "k.pub").write_bytes(public)
    (directory / "file").write_bytes(CONTENT)
    (directory / "file.minisig").write_bytes(signature)
    command = [MINISIGN, "-V", "-p", directory / "k.pub", "-m", directory / "file", "-x", directory / "file.minisig"]
    return subprocess.run(command, capture_output=True).returncode == 0


def test_a_signature_stock_minisign_cannot_read_is_refused_though_its_signatures_verify(stock, tmp_path) -> None:
    """minisign 0.11 reads the untrusted comment into 1024 bytes and each comment up to a NUL: an untrusted
    comment line of 1023 bytes or more, or a NUL in a comment, makes `minisign -V` refuse the file. Accepting it
    would let one signature have byte forms stock minisign calls invalid (the untrusted comment is unsigned)."""
    public, signatures = stock
    key = VerifyingKey.from_bytes(public, what="k.pub")
    data = signatures["prehashed"]
    longest = "a" * (1022 - len("untrusted comment: "))
    readable = {"longest untrusted comment": _reencoded(data, 0, lambda _: f"untrusted comment: {longest}".encode())}
    unreadable = {
        "untrusted comment too long": _reencoded(data, 0, lambda _: f"untrusted comment: {longest}a".encode()),
        "NUL in the untrusted comment": _reencoded(data, 0, lambda line: line + b"\x00"),
        "NUL in the trusted comment": _reencoded(data, 2, lambda line: line + b"\x00"),
    }
    for name, variant in readable.items():
        assert _stock_verifies(tmp_path, public, variant), name
        assert SignatureFile.from_bytes(variant, what="f.minisig").verifies(key, CONTENT), name
    for name, variant in unreadable.items():
        assert not _stock_verifies(tmp_path, public, variant), name
        with pytest.raises(SignatureError, match=r"^f\.minisig: not a minisign signature in minisign's exact encoding"):
            SignatureFile.from_bytes(variant, what="f.minisig")
            pytest.fail(f"accepted: {name}")
