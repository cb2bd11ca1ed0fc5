"""minisign public keys and signature files, read and verified with `cryptography`'s Ed25519 alone.

Verification runs at every install and every start-up self-check, and
importing `py-minisign` costs more than the rest of the check: its package
imports key generation, `cryptography`'s whole serialization layer and
scrypt, none of which verifying needs. This module reads the two file
formats verifying needs, exactly as minisign 0.11 writes them, and checks
both Ed25519 signatures (over the content, BLAKE2b-512 prehashed or legacy
whole; and the global one over that signature and the trusted comment), as
`minisign -V` does. Signing and secret keys stay with `py-minisign`
(`signing.backends.minisign`).

A public key is accepted exactly when `py-minisign` accepts it; a
signature file only in minisign's exact encoding (lines joined by `\\n`,
one optional final `\\n`, canonical base64, no NUL, an untrusted comment
line no longer than minisign 0.11 reads), so stock `minisign -V` reads every
signature file accepted here, and only the unsigned untrusted comment varies.
"""

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from signing.errors import KeyFileError, SignatureError

PUBLIC_KEY_ALGORITHM = b"Ed"
PREHASHED = b"ED"
"""The signature algorithm of a prehashed signature (minisign 0.11's default); legacy ones are `Ed`."""
_KEY_NUMBER_BYTES = 8
_ED25519_KEY_BYTES = 32
_SIGNATURE_BYTES = 64
_UNTRUSTED = b"untrusted comment: "
_UNTRUSTED_LINE_MAX_BYTES = 1022
"""The longest untrusted comment line minisign 0.11 reads (into 1024 bytes, with its line feed and a NUL)."""
_TRUSTED = b"trusted comment: "
_CHUNK_BYTES = 64 * 1024
LEGACY_MAX_BYTES = 32 * 1024 * 1024
"""The most content read from a stream (a file) that a legacy (non-prehashed) signature is checked over.

Ed25519 without prehashing needs the whole content in memory at once, and
whoever serves a file can put a legacy signature beside it: without a cap
a 2 GiB download would be read into memory whole before its forged
signature failed. minisign 0.11 signs prehashed unless told `-l`.
"""
_KEY_ID = re.compile(r"[0-9A-Fa-f]{1,16}")


class Readable(Protocol):
    """What is signed, as a stream: a file, or one that hashes as it is read (`signing.digest.DigestingReader`)."""

    def read(self, size: int = -1, /) -> bytes: ...


class _Malformed(ValueError):
    """What is wrong with a file's form; `from_bytes` names the file and raises packseal's error."""


@dataclass(frozen=True)
class VerifyingKey:
    """A minisign public key: its key number (the key id) and its Ed25519 key."""

    key_number: bytes
    ed25519: bytes

    @property
    def key_id(self) -> str:
        """The key id as stock minisign 0.11 prints it: the little-endian key number in hex, no leading zeros."""
        return key_id(self.key_number)

    @classmethod
    def from_bytes(cls, data: bytes, *, what: str) -> "VerifyingKey":
        """Parse a public key file (`minisign -G`'s `.pub`), named `what`; raise `KeyFileError` if it is none."""
        try:
            return cls._parse(data)
        except _Malformed as err:
            raise KeyFileError(f"{what}: not a minisign public key ({err})") from None

    @classmethod
    def _parse(cls, data: bytes) -> "VerifyingKey":
        """An untrusted comment line and a base64 line: the algorithm, key number and Ed25519 key."""
        lines = data.splitlines()
        if len(lines) != 2:
            raise _Malformed("a public key file has 2 lines")
        _comment(lines[0], _UNTRUSTED)
        raw = _base64(lines[1], 2 + _KEY_NUMBER_BYTES + _ED25519_KEY_BYTES, canonical=False)
        if raw[:2] != PUBLIC_KEY_ALGORITHM:
            raise _Malformed(f"unsupported public key algorithm {raw[:2]!r}")
        ed25519 = raw[2 + _KEY_NUMBER_BYTES :]
        try:
            Ed25519PublicKey.from_public_bytes(ed25519)
        except ValueError:
            raise _Malformed("not an Ed25519 public key") from None
        return cls(raw[2 : 2 + _KEY_NUMBER_BYTES], ed25519)


@dataclass(frozen=True)
class SignatureFile:
    """A `.minisig` file, parsed: who claims to have signed (key number), the signatures, the trusted comment."""

    algorithm: bytes
    key_number: bytes
    signature: bytes
    trusted_comment: str
    global_signature: bytes

    @property
    def key_id(self) -> str:
        return key_id(self.key_number)

    @classmethod
    def from_bytes(cls, data: bytes, *, what: str) -> "SignatureFile":
        """Parse a signature file, named `what`, that is exactly minisign's encoding; else raise `SignatureError`."""
        try:
            return cls._parse(data)
        except _Malformed as err:
            raise SignatureError(f"{what}: not a minisign signature in minisign's exact encoding ({err})") from None

    @classmethod
    def _parse(cls, data: bytes) -> "SignatureFile":
        lines = data.removesuffix(b"\n").split(b"\n")
        if len(lines) != 4:
            raise _Malformed("a signature file has 4 lines, joined by a line feed")
        if b"\r" in data:
            raise _Malformed("a stray carriage return")
        if b"\0" in data:
            raise _Malformed("a NUL byte, where minisign stops reading a comment")
        if len(lines[0]) > _UNTRUSTED_LINE_MAX_BYTES:
            raise _Malformed(f"an untrusted comment line over {_UNTRUSTED_LINE_MAX_BYTES} bytes, too long for minisign")
        _comment(lines[0], _UNTRUSTED)
        signed = _base64(lines[1], 2 + _KEY_NUMBER_BYTES + _SIGNATURE_BYTES, canonical=True)
        if signed[:2] not in (PREHASHED, PUBLIC_KEY_ALGORITHM):
            raise _Malformed(f"unsupported signature algorithm {signed[:2]!r}")
        return cls(
            algorithm=signed[:2],
            key_number=signed[2 : 2 + _KEY_NUMBER_BYTES],
            signature=signed[2 + _KEY_NUMBER_BYTES :],
            trusted_comment=_comment(lines[2], _TRUSTED),
            global_signature=_base64(lines[3], _SIGNATURE_BYTES, canonical=True),
        )

    def verifies(self, key: VerifyingKey, content: bytes | Readable) -> bool:
        """Whether `key` signed `content` and this trusted comment, as `minisign -V` decides; reads `content` once.

        Raises `SignatureError` for a legacy signature over a stream of more
        than `LEGACY_MAX_BYTES`, having read no more than that.
        """
        if key.key_number != self.key_number:
            return False
        public_key = Ed25519PublicKey.from_public_bytes(key.ed25519)
        message = _prehash(content) if self.algorithm == PREHASHED else _whole(content)
        try:
            public_key.verify(self.signature, message)
            public_key.verify(self.global_signature, self.signature + self.trusted_comment.encode())
        except InvalidSignature:
            return False
        return True


def key_id(key_number: bytes) -> str:
    """A key id as stock minisign 0.11 prints it (minisign 0.12 pads it to 16 digits)."""
    return f"{int.from_bytes(key_number, 'little'):X}"


def canonical_key_id(given: str) -> str:
    """A key id as `key_id` prints it, from any way a person copies one: minisign 0.11's, 0.12's zero-padded, any case.

    Key ids are compared as these strings (a revocation with the one a
    signature names): text that is no key id (1 to 16 hex digits) raises
    `ValueError`, since it could match nothing and would revoke nothing.
    """
    if not _KEY_ID.fullmatch(given):
        raise ValueError(f"{given!r} is not a minisign key id (1 to 16 hex digits)")
    return f"{int(given, 16):X}"


def _comment(line: bytes, prefix: bytes) -> str:
    if not line.startswith(prefix):
        raise _Malformed(f"a line does not start with {prefix.decode()!r}")
    try:
        return line[len(prefix) :].decode()
    except UnicodeDecodeError:
        raise _Malformed("a comment is not UTF-8") from None


def _base64(line: bytes, length: int, *, canonical: bool) -> bytes:
    try:
        raw = base64.b64decode(line, validate=True)
    except (ValueError, binascii.Error):
        raise _Malformed("invalid base64") from None
    if len(raw) != length:
        raise _Malformed(f"{len(raw)} bytes where {length} are expected")
    if canonical and base64.b64encode(raw) != line:
        raise _Malformed("non-zero base64 padding bits")
    return raw


def _prehash(content: bytes | Readable) -> bytes:
    if isinstance(content, bytes):
        return hashlib.blake2b(content).digest()
    hasher = hashlib.blake2b()
    for chunk in _chunks(content):
        hasher.update(chunk)
    return hasher.digest()


def _whole(content: bytes | Readable) -> bytes:
    if isinstance(content, bytes):
        return content
    chunks: list[bytes] = []
    size = 0
    for chunk in _chunks(content):
        size += len(chunk)
        if size > LEGACY_MAX_BYTES:
            raise SignatureError(
                f"a legacy (non-prehashed) signature over more than {LEGACY_MAX_BYTES >> 20} MiB is refused, "
                "as checking it would hold the whole file in memory; sign prehashed (minisign 0.11's default)"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _chunks(stream: Readable) -> Iterable[bytes]:
    while chunk := stream.read(_CHUNK_BYTES):
        yield chunk
