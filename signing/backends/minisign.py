"""minisign keys and signatures, byte-compatible with minisign 0.11.

Keys and signature files are exactly the stock tool's: a key pair made here
signs with `minisign -S`, and a signature made here verifies with
`minisign -V`. Signatures are prehashed (BLAKE2b), as minisign 0.11 makes
them; legacy (`minisign -l`) signatures are still accepted at verification,
as minisign itself accepts them (over a file, up to
`minisign_files.LEGACY_MAX_BYTES`).

Trusted keys never come from the bundle: a `MinisignKeyring` is built from
the installer's own key files, and a signature names the key it needs by id.

Keys are made, and files signed, with `py-minisign`, imported only then;
verifying reads public keys and signatures with `minisign_files`, on
`cryptography`'s Ed25519 alone, because importing `py-minisign` costs more
than an install's whole check of a small bundle.
"""

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TypeVar

from attest.errors import os_error_line
from signing.backends import minisign_files
from signing.backends.minisign_files import SignatureFile, VerifyingKey
from signing.digest import DigestingReader, FileDigest
from signing.errors import BundleError, KeyFileError, OutputError, SignatureError, SigningError, TrustPolicyError
from signing.files import PathLike, create_exclusively, open_regular_file, read_regular_file
from signing.layout import minisign_signature
from signing.roles import Role, RoleClaim

if TYPE_CHECKING:
    import minisign

    from signing.progress import Progress

# The scrypt cost stock `minisign -G` uses (libsodium's "sensitive" limits).
_SCRYPT_OPSLIMIT = 33_554_432
_SCRYPT_MEMLIMIT = 1_073_741_824
_MAX_KEY_FILE_BYTES = 4096
_MAX_SIGNATURE_FILE_BYTES = 4096


def key_id(key: "minisign.PublicKey | minisign.Signature") -> str:
    """A key id as stock minisign 0.11 prints it: the little-endian key number in hex, no leading zeros.

    The ids must be the ones a user sees in `minisign` output and in the
    public key's comment (minisign 0.12 pads them to 16 digits; 0.11 is the
    stock minisign packseal is compatible with).
    """
    return minisign_files.key_id(_key_number(key))


def _key_number(key: "minisign.PublicKey | minisign.Signature") -> bytes:
    """py-minisign has no public accessor for the key number, hence the private fields."""
    import minisign

    return key._key_id if isinstance(key, minisign.Signature) else key._keynum_pk.key_id


@dataclass(frozen=True)
class KeyPairFiles:
    """Where `generate_key_pair` wrote a key pair."""

    secret_key: Path
    public_key: Path
    key_id: str


def generate_key_pair(
    directory: PathLike, name: str, password: str | None, *, progress: "Progress | None" = None
) -> KeyPairFiles:
    """Write `NAME.key` (mode 0600) and `NAME.pub` in `directory`; never overwrite.

    With a password the secret key is encrypted with the same scrypt cost as
    stock minisign (seconds, by design: `progress` is told); `None` writes
    it unencrypted, like `minisign -G -W`.
    """
    directory = Path(directory)
    if not name or "/" in name or name.startswith("."):
        raise OutputError(f"{name!r}: a key name must be a plain file name")
    import minisign

    pair = minisign.KeyPair.generate()
    if password is not None:
        if progress is not None:
            progress.note(f"deriving the key that encrypts {name}.key from its password (scrypt, a few seconds)...")
        pair.secret_key.encrypt(password, opslimit=_SCRYPT_OPSLIMIT, memlimit=_SCRYPT_MEMLIMIT)
    identifier = key_id(pair.public_key)
    pair.public_key.untrusted_comment = f"minisign public key {identifier}"
    files = KeyPairFiles(directory / f"{name}.key", directory / f"{name}.pub", identifier)
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(os_error_line(directory, err, "create directory")) from None
    create_exclusively(
        {
            files.secret_key: (bytes(pair.secret_key) + b"\n", 0o600),
            files.public_key: (bytes(pair.public_key) + b"\n", 0o644),
        }
    )
    pair.secret_key.wipe()
    return files


def read_secret_key(path: PathLike) -> "minisign.SecretKey":
    """Parse a minisign secret key file; it may still be encrypted (see `unlock`)."""
    import minisign

    return _read_key(path, minisign.SecretKey)


def unlock(
    secret_key: "minisign.SecretKey", password: str, *, path: PathLike, progress: "Progress | None" = None
) -> None:
    """Decrypt an encrypted secret key in place; a wrong password is refused.

    The key is derived from the password with scrypt, which takes seconds
    by design: `progress` is told, so a person is not left wondering.
    """
    if progress is not None:
        progress.note(f"deriving the key of {path} from its password (scrypt, a few seconds)...")
    import minisign

    try:
        secret_key.decrypt(password)
    except minisign.Error:
        raise KeyFileError(f"{path}: wrong password for this minisign secret key") from None


def read_public_key(path: PathLike) -> "minisign.PublicKey":
    """Parse a minisign public key file, as written by `minisign -G` or `packseal keygen`."""
    import minisign

    return _read_key(path, minisign.PublicKey)


def sign(secret_key: "minisign.SecretKey", content: bytes | BinaryIO, trusted_comment: str) -> bytes:
    """A prehashed minisign signature over `content`, as the bytes of a `.minisig` file."""
    import minisign

    try:
        signature = secret_key.sign(content, prehash=True, trusted_comment=trusted_comment)
    except minisign.Error as err:
        raise SigningError(f"trusted comment {trusted_comment!r}: {err}") from None
    return bytes(signature) + b"\n"


@dataclass(frozen=True)
class MinisignSigning:
    """Signing with an unlocked minisign secret key; prehashed, as minisign 0.11 signs.

    Every trusted comment starts with the role claim (`signing.roles`), so
    the signature is valid for its role and subject only. What follows the
    claim is `trusted_comment` when given, else the bundle's name and the
    time; stock minisign prints the whole line on verification.
    """

    secret_key: "minisign.SecretKey"
    trusted_comment: str | None = None

    def sign_statement(
        self, statement_path: Path, statement: bytes, claim: RoleClaim, description: str
    ) -> tuple[Path, bytes]:
        return minisign_signature(statement_path), sign(self.secret_key, statement, self._comment(claim, description))

    def sign_file(self, path: Path, digest: FileDigest, description: str) -> tuple[Path, bytes]:
        comment = self._comment(RoleClaim(Role.FILE, digest.sha256), description)
        try:
            with open_regular_file(path) as stream:
                signature = sign(self.secret_key, stream, comment)
        except OSError as err:
            raise BundleError(os_error_line(path, err)) from None
        return minisign_signature(path), signature

    def _comment(self, claim: RoleClaim, description: str) -> str:
        return claim.trusted_comment(self.trusted_comment or f"{description} timestamp:{int(time.time())}")


@dataclass(frozen=True)
class MinisignSigner:
    """Who signed, as far as minisign can say: a trusted key id, its trusted comment and the claim in it."""

    key_id: str
    trusted_comment: str
    claim: RoleClaim | None = None

    def __str__(self) -> str:
        return f"minisign key {self.key_id}"

    def to_json(self) -> dict[str, str]:
        return {"system": "minisign", "key_id": self.key_id}

    @property
    def detail(self) -> str:
        return f"trusted {self}, trusted comment: {self.trusted_comment}"


class MinisignKeyring:
    """The minisign public keys an installer trusts, looked up by key id."""

    system = "minisign"

    def __init__(self, keys: "Iterable[minisign.PublicKey | VerifyingKey]", *, revoked: Iterable[str] = ()) -> None:
        """Trust any of `keys` whose id is not in `revoked`; refuse none, and two different keys that share a key id.

        A revoked id may be spelled as minisign 0.11 or 0.12 prints it, in
        either case (`minisign_files.canonical_key_id`); one that is no key id
        is refused, as it would revoke nothing.

        A signature names the key it needs by id alone, so two keys with one
        id would leave only one of them usable, silently. The same key given
        twice (say, one file named in two places) is no such ambiguity: it is
        accepted once. A revoked key is refused even when listed, and its
        signature is refused naming the revocation, not as merely unknown.
        """
        try:
            self._revoked = frozenset(minisign_files.canonical_key_id(identifier) for identifier in revoked)
        except ValueError as err:
            raise TrustPolicyError(f"revoked minisign key {err}") from None
        self._keys: dict[str, VerifyingKey] = {}
        for given in keys:
            key = given if isinstance(given, VerifyingKey) else _verifying_key(given)
            identifier = key.key_id
            if self._keys.setdefault(identifier, key) != key:
                raise TrustPolicyError(
                    f"two different trusted minisign public keys have key id {identifier}; "
                    "a signature could not say which one it needs"
                )
        for identifier in self._revoked:
            self._keys.pop(identifier, None)
        if not self._keys:
            raise TrustPolicyError(
                "no trusted minisign public key was given" + (" that is not revoked" if self._revoked else "")
            )

    @classmethod
    def from_files(cls, paths: Iterable[PathLike]) -> "MinisignKeyring":
        """Trust the public key in each file (read as `read_public_key` reads it, without importing py-minisign)."""
        return cls(_read_verifying_key(path) for path in paths)

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def statement_signature(self, statement_path: Path) -> Path:
        return minisign_signature(statement_path)

    def file_signature(self, path: Path) -> Path:
        return minisign_signature(path)

    def verify_statement(self, statement: bytes, signature: Path, role: Role) -> MinisignSigner:
        """Verify a signature whose trusted comment claims `role`; the caller checks the claimed subject."""
        signer = self._verify(statement, signature)
        RoleClaim.required_in(signer.trusted_comment, role, where=str(signature))
        return signer

    def verify_file(self, path: Path, signature: Path) -> tuple[MinisignSigner, FileDigest]:
        """Verify, and hash the file in the same single read; a packseal claim must be this file's."""
        try:
            with open_regular_file(path) as stream:
                reader = DigestingReader(stream)
                signer = self._verify(reader, signature)
        except OSError as err:
            raise BundleError(os_error_line(path, err)) from None
        digest = reader.digest()
        if signer.claim is not None:
            signer.claim.require(RoleClaim(Role.FILE, digest.sha256), where=str(signature))
        return signer, digest

    def _verify(self, content: bytes | BinaryIO | DigestingReader, signature_file: Path) -> MinisignSigner:
        """Verify a `.minisig` file over `content` with the key its key id names.

        Raises `SignatureError` when the file is unreadable or malformed
        (`read_signature`), names an untrusted key, or the signature or
        trusted comment does not verify.
        """
        signature = read_signature(signature_file)
        identifier = signature.key_id
        if identifier in self._revoked:
            raise SignatureError(f"{signature_file}: signed by key {identifier}, which the trust policy revokes")
        key = self._keys.get(identifier)
        if key is None:
            raise SignatureError(f"{signature_file}: signed by key {identifier}, which is not trusted")
        try:
            verified = signature.verifies(key, content)
        except SignatureError as err:
            raise SignatureError(f"{signature_file}: {err}") from None
        if not verified:
            raise SignatureError(
                f"{signature_file}: signature or trusted comment does not verify with key {identifier}"
            )
        comment = signature.trusted_comment
        return MinisignSigner(identifier, comment, RoleClaim.from_trusted_comment(comment, where=str(signature_file)))


def read_signature(path: PathLike) -> SignatureFile:
    """Read a `.minisig` file, which must be exactly the encoding of what it decodes to.

    Raises `SignatureError` for an unreadable, oversized or malformed file
    (`minisign_files.SignatureFile.from_bytes`: a bare CR, base64 padding
    bits or trailing bytes would give one signature many byte forms).
    """
    try:
        data = _read_small_file(path, _MAX_SIGNATURE_FILE_BYTES, "signature")
    except KeyFileError as err:
        raise SignatureError(str(err)) from None
    return SignatureFile.from_bytes(data, what=str(path))


def _verifying_key(key: "minisign.PublicKey") -> VerifyingKey:
    return VerifyingKey(_key_number(key), key._keynum_pk.public_key)


def _read_verifying_key(path: PathLike) -> VerifyingKey:
    """A trusted public key file, as `read_public_key` reads it; py-minisign is imported only to name an error."""
    data = _read_small_file(path, _MAX_KEY_FILE_BYTES, "key")
    try:
        return VerifyingKey.from_bytes(data, what=str(path))
    except KeyFileError:
        import minisign

        _read_key(path, minisign.PublicKey, data)  # names a secret key as such
        raise


KeyT = TypeVar("KeyT", "minisign.SecretKey", "minisign.PublicKey")


def _read_key(path: PathLike, kind: type[KeyT], data: bytes | None = None) -> KeyT:
    """Parse a key file of `kind`; say so plainly when it is the other kind of key."""
    import minisign

    kinds = {minisign.SecretKey: "secret", minisign.PublicKey: "public"}
    data = _read_small_file(path, _MAX_KEY_FILE_BYTES, "key") if data is None else data
    try:
        return kind.from_bytes(data)
    except minisign.Error as err:
        other_kind = minisign.PublicKey if kind is minisign.SecretKey else minisign.SecretKey
        if _parses_as(other_kind, data):
            raise KeyFileError(
                f"{path}: this is a minisign {kinds[other_kind]} key; a {kinds[kind]} key is needed"
            ) from None
        raise KeyFileError(f"{path}: not a minisign {kinds[kind]} key ({err})") from None


def _parses_as(kind: "type[minisign.PublicKey] | type[minisign.SecretKey]", data: bytes) -> bool:
    import minisign

    try:
        kind.from_bytes(data)
    except minisign.Error:
        return False
    return True


def _read_small_file(path: PathLike, limit: int, what: str) -> bytes:
    try:
        return read_regular_file(path, limit, follow_symlinks=True)
    except BundleError as err:
        raise KeyFileError(f"cannot read {what} file {err}") from None
