"""The minisign backend: keys and signatures exactly as stock minisign 0.11 writes them."""

import base64
import io
import os
import stat
import subprocess

import minisign
import pytest
from key_derivation import stock_key_derivation

from signing.backends.minisign import (
    MinisignKeyring,
    MinisignSigner,
    generate_key_pair,
    key_id,
    read_public_key,
    read_secret_key,
    sign,
    unlock,
)
from signing.errors import KeyFileError, OutputError, SignatureError, SigningError, TrustPolicyError
from signing.roles import Role, RoleClaim

MINISIGN = "/usr/bin/minisign"
PASSWORD = "correct horse battery staple"
# libsodium's scryptsalsa208sha256 "sensitive" limits, which `minisign -G` uses.
STOCK_OPSLIMIT = 33_554_432
STOCK_MEMLIMIT = 1_073_741_824
CONTENT = b"the signed bytes\n"
CLAIM = RoleClaim(Role.BUNDLE_MANIFEST, "a" * 64)
COMMENT = CLAIM.trusted_comment("trusted words")


def _key_file_fields(path) -> dict:
    """The unencrypted header of a minisign secret key file (see minisign.c, SeckeyStruct)."""
    raw = base64.b64decode(path.read_bytes().splitlines()[1])
    return {
        "kdf": raw[2:4],
        "opslimit": int.from_bytes(raw[38:46], "little"),
        "memlimit": int.from_bytes(raw[46:54], "little"),
    }


@pytest.fixture(scope="module")
def stock_key_pair(tmp_path_factory):
    """A key pair from stock `minisign -G -W`, and the id it printed into the public key."""
    directory = tmp_path_factory.mktemp("stock")
    public, secret = directory / "p.pub", directory / "s.key"
    subprocess.run([MINISIGN, "-G", "-W", "-p", public, "-s", secret], check=True, capture_output=True)
    comment = public.read_text().splitlines()[0]
    assert comment.startswith("untrusted comment: minisign public key ")
    return public, secret, comment.rsplit(" ", 1)[1]


@pytest.fixture(scope="module")
def encrypted_key_files(tmp_path_factory):
    """The one key pair per module encrypted at the cost a user gets, stock minisign's (about 3 s)."""
    with stock_key_derivation():
        return generate_key_pair(tmp_path_factory.mktemp("encrypted"), "enc", PASSWORD)


@pytest.fixture
def signature_file(tmp_path, key_pair):
    def make(content=CONTENT, secret_key=None, prehash=True, comment=COMMENT):
        path = tmp_path / "content.minisig"
        path.write_bytes(
            bytes((secret_key or key_pair.secret_key).sign(content, prehash=prehash, trusted_comment=comment)) + b"\n"
        )
        return path

    return make


# --- key ids and key files ---------------------------------------------------------


@pytest.mark.interop
def test_key_id_is_what_stock_minisign_prints(stock_key_pair, tmp_path):
    public, secret, printed_id = stock_key_pair
    assert key_id(read_public_key(public)) == printed_id
    (tmp_path / "f").write_bytes(CONTENT)
    subprocess.run([MINISIGN, "-S", "-s", secret, "-m", tmp_path / "f"], check=True, capture_output=True)
    assert key_id(minisign.Signature.from_bytes((tmp_path / "f.minisig").read_bytes())) == printed_id


@pytest.mark.interop
def test_keyring_verifies_a_stock_signature(stock_key_pair, tmp_path):
    public, secret, printed_id = stock_key_pair
    (tmp_path / "f").write_bytes(CONTENT)
    subprocess.run([MINISIGN, "-S", "-s", secret, "-m", tmp_path / "f", "-t", "stock"], check=True, capture_output=True)
    signer, digest = MinisignKeyring.from_files([public]).verify_file(tmp_path / "f", tmp_path / "f.minisig")
    assert signer == MinisignSigner(key_id=printed_id, trusted_comment="stock")
    assert digest.size == len(CONTENT)


@pytest.mark.interop
def test_stock_minisign_verifies_a_generated_key_signature(tmp_path):
    files = generate_key_pair(tmp_path, "k", None)
    (tmp_path / "f").write_bytes(CONTENT)
    (tmp_path / "f.minisig").write_bytes(sign(read_secret_key(files.secret_key), CONTENT, "made here"))
    result = subprocess.run(
        [MINISIGN, "-V", "-p", files.public_key, "-m", tmp_path / "f"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "made here" in result.stdout


def test_generate_key_pair_without_password(tmp_path):
    files = generate_key_pair(tmp_path / "keys", "k", None)
    assert (files.secret_key.name, files.public_key.name) == ("k.key", "k.pub")
    assert stat.S_IMODE(files.secret_key.stat().st_mode) == 0o600
    assert files.public_key.read_text().splitlines()[0] == f"untrusted comment: minisign public key {files.key_id}"
    assert key_id(read_public_key(files.public_key)) == files.key_id
    secret = read_secret_key(files.secret_key)
    assert not secret.is_encrypted()
    assert secret.get_public_key().to_base64() == read_public_key(files.public_key).to_base64()


@pytest.mark.slow
def test_generate_key_pair_encrypts_at_stock_cost(encrypted_key_files):
    assert _key_file_fields(encrypted_key_files.secret_key) == {
        "kdf": b"Sc",
        "opslimit": STOCK_OPSLIMIT,
        "memlimit": STOCK_MEMLIMIT,
    }


@pytest.mark.slow
def test_generated_encrypted_key_unlocks_with_its_password(encrypted_key_files):
    secret = read_secret_key(encrypted_key_files.secret_key)
    assert secret.is_encrypted()
    unlock(secret, PASSWORD, path=encrypted_key_files.secret_key)
    signature = minisign.Signature.from_bytes(sign(secret, CONTENT, "c"))
    read_public_key(encrypted_key_files.public_key).verify(CONTENT, signature)


def test_wrong_password_is_refused(tmp_path):
    pair = minisign.KeyPair.generate()
    pair.secret_key.encrypt(PASSWORD, opslimit=32_768, memlimit=16_777_216)  # cheap: the cost is not the point
    (tmp_path / "k.key").write_bytes(bytes(pair.secret_key) + b"\n")
    secret = read_secret_key(tmp_path / "k.key")
    with pytest.raises(KeyFileError, match="wrong password"):
        unlock(secret, "not the password", path=tmp_path / "k.key")


@pytest.mark.parametrize("existing", ["k.key", "k.pub"])
def test_generate_key_pair_never_overwrites(tmp_path, existing):
    (tmp_path / existing).write_bytes(b"keep me")
    with pytest.raises(OutputError, match="already exists"):
        generate_key_pair(tmp_path, "k", None)
    assert os.listdir(tmp_path) == [existing]
    assert (tmp_path / existing).read_bytes() == b"keep me"


@pytest.mark.parametrize("name", ["", "a/b", ".hidden"])
def test_generate_key_pair_refuses_a_name_that_is_not_a_plain_file_name(tmp_path, name):
    with pytest.raises(OutputError, match="plain file name"):
        generate_key_pair(tmp_path, name, None)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("reader", "given", "message"),
    [
        (read_secret_key, "pub", "this is a minisign public key; a secret key is needed"),
        (read_public_key, "key", "this is a minisign secret key; a public key is needed"),
    ],
)
def test_a_key_of_the_other_kind_is_named_as_such(tmp_path, reader, given, message):
    generate_key_pair(tmp_path, "k", None)
    with pytest.raises(KeyFileError, match=message):
        reader(tmp_path / f"k.{given}")


@pytest.mark.parametrize("reader", [read_secret_key, read_public_key])
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a minisign"),
        (b"garbage\n", "not a minisign"),
        (b"untrusted comment: x\nRWQ\n", "not a minisign"),
        (b"x" * 5000, "over the 4096 byte limit"),
        (None, "cannot read key file"),
    ],
    ids=["empty", "garbage", "truncated", "too large", "missing"],
)
def test_unusable_key_files_are_refused(tmp_path, reader, content, message):
    if content is not None:
        (tmp_path / "k").write_bytes(content)
    with pytest.raises(KeyFileError, match=message):
        reader(tmp_path / "k")


# --- signing -------------------------------------------------------------------------


@pytest.mark.parametrize("comment", ["line\nbreak", "carriage\rreturn", "caf\u00e9", "nul\x00"])
def test_sign_refuses_a_trusted_comment_minisign_cannot_carry(key_pair, comment):
    with pytest.raises(SigningError, match="trusted comment"):
        sign(key_pair.secret_key, CONTENT, comment)


@pytest.mark.parametrize("content", [CONTENT, io.BytesIO(CONTENT)], ids=["bytes", "stream"])
def test_sign_makes_a_prehashed_signature_file(key_pair, content):
    data = sign(key_pair.secret_key, content, "comment")
    signature = minisign.Signature.from_bytes(data)
    assert data.endswith(b"\n")
    assert signature.is_prehashed()
    assert signature.trusted_comment == "comment"
    key_pair.public_key.verify(CONTENT, signature)


# --- the keyring -----------------------------------------------------------------------


@pytest.mark.parametrize("keys", [[], iter([])], ids=["list", "iterator"])
def test_an_empty_keyring_is_refused(keys):
    with pytest.raises(TrustPolicyError):
        MinisignKeyring(keys)


@pytest.mark.parametrize("prehash", [True, False], ids=["prehashed", "legacy"])
def test_keyring_verifies_with_the_key_the_signature_names(key_pair, other_key_pair, signature_file, prehash):
    keyring = MinisignKeyring([other_key_pair.public_key, key_pair.public_key])
    signer = keyring.verify_statement(CONTENT, signature_file(prehash=prehash), Role.BUNDLE_MANIFEST)
    assert signer == MinisignSigner(key_id(key_pair.public_key), COMMENT, CLAIM)
    assert keyring.key_ids == {key_id(key_pair.public_key), key_id(other_key_pair.public_key)}


def test_an_unknown_key_id_is_refused_by_name(key_pair, other_key_pair, signature_file):
    keyring = MinisignKeyring([other_key_pair.public_key])
    with pytest.raises(SignatureError, match=f"signed by key {key_id(key_pair.public_key)}, which is not trusted"):
        keyring.verify_statement(CONTENT, signature_file(), Role.BUNDLE_MANIFEST)


def _edit_line(path, prefix: bytes, replacement: bytes) -> None:
    lines = path.read_bytes().split(b"\n")
    index = next(i for i, line in enumerate(lines) if line.startswith(prefix))
    lines[index] = prefix + replacement
    path.write_bytes(b"\n".join(lines))


def test_an_edited_trusted_comment_is_refused(key_pair, signature_file):
    path = signature_file()
    _edit_line(path, b"trusted comment: ", b"trusted wordz")
    with pytest.raises(SignatureError, match="does not verify"):
        MinisignKeyring([key_pair.public_key]).verify_statement(CONTENT, path, Role.BUNDLE_MANIFEST)


def test_an_edited_untrusted_comment_still_verifies_as_with_stock_minisign(key_pair, signature_file):
    path = signature_file()
    _edit_line(path, b"untrusted comment: ", b"anything at all")
    assert (
        MinisignKeyring([key_pair.public_key]).verify_statement(CONTENT, path, Role.BUNDLE_MANIFEST).trusted_comment
        == COMMENT
    )


def test_changed_content_is_refused(key_pair, signature_file):
    with pytest.raises(SignatureError, match="does not verify"):
        MinisignKeyring([key_pair.public_key]).verify_statement(CONTENT + b"x", signature_file(), Role.BUNDLE_MANIFEST)


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda data: b"",
        lambda data: b"garbage",
        lambda data: data[: len(data) // 2],
        lambda data: data.replace(b"\n", b"\r\n"),
        lambda data: data + b"trailing",
        lambda data: data * 200,
    ],
    ids=["empty", "garbage", "truncated", "CRLF", "trailing bytes", "too large"],
)
def test_a_malformed_signature_file_is_refused(key_pair, signature_file, corrupt):
    path = signature_file()
    path.write_bytes(corrupt(path.read_bytes()))
    with pytest.raises(SignatureError):
        MinisignKeyring([key_pair.public_key]).verify_statement(CONTENT, path, Role.BUNDLE_MANIFEST)


def test_a_missing_signature_file_is_refused(key_pair, tmp_path):
    with pytest.raises(SignatureError, match="cannot read signature file"):
        MinisignKeyring([key_pair.public_key]).verify_statement(
            CONTENT, tmp_path / "none.minisig", Role.BUNDLE_MANIFEST
        )
