"""Small documents packseal writes and signs with minisign, each in a role of its own.

A state or head file is trusted later only as far as its signature: the
document's bytes are verified before anything parses them, the signature
must claim the document's role and the sha256 of exactly these bytes
(`signing.roles`), and the document and its `.minisig` are written
together or not at all.
"""

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from attest.canonical import MAX_DOCUMENT_BYTES
from signing.errors import OutputError, SignatureError, TrustPolicyError
from signing.files import PathLike, read_regular_file, replace_together
from signing.layout import minisign_signature
from signing.roles import Role, RoleClaim

if TYPE_CHECKING:
    import minisign

    from signing.backends.minisign import MinisignKeyring, MinisignSigner


def write_document(
    out: PathLike,
    data: bytes,
    role: Role,
    *,
    secret_key: "minisign.SecretKey | None",
    description: str,
    subject: str | None = None,
) -> None:
    """Write `data` to `out`, and `out.minisig` signed in `role` when a key is given.

    The signature claims `subject` (a sha256 in hex), by default the
    document's own digest. Without a key, an existing `out.minisig` is
    refused rather than left beside a document it does not cover.
    """
    out = Path(out)
    signature = minisign_signature(out)
    if secret_key is None:
        if os.path.lexists(signature):
            raise OutputError(f"{signature}: exists, and would not cover an unsigned {role.value}; remove it first")
        replace_together({out: data})
        return
    from signing.backends import minisign as minisign_backend

    comment = RoleClaim(role, subject or _own_digest(data)).trusted_comment(description)
    replace_together({out: data, signature: minisign_backend.sign(secret_key, data, comment)})


def read_document(
    path: PathLike,
    role: Role,
    *,
    public_key: "PathLike | MinisignKeyring | None",
    allow_unsigned: bool = False,
    subject: "Callable[[bytes], str] | None" = None,
) -> "tuple[bytes, MinisignSigner | None]":
    """The bytes of a document, verified in `role` with `public_key` before the caller parses them.

    The signature must claim `subject(data)`, by default the document's own
    sha256; a caller whose subject is stated inside the document parses it
    there, on bytes whose signature already verified.

    Fail closed: with no key, only `allow_unsigned=True` reads the
    document, and never one that carries a signature (its signer meant it
    to be checked). Raises `TrustPolicyError` when asked wrongly and
    `SignatureError` when the signature is missing or does not verify.
    """
    path = Path(path)
    if (public_key is None) != allow_unsigned:
        raise TrustPolicyError(
            f"name the minisign public key the {role.value} must be signed by, or allow an unsigned one"
            if public_key is None
            else "give a public key or allow an unsigned document, not both"
        )
    data = read_regular_file(path, MAX_DOCUMENT_BYTES)
    signature = minisign_signature(path)
    if public_key is None:
        if os.path.lexists(signature):
            raise TrustPolicyError(f"{path}: is signed ({signature.name}); give the public key to verify it")
        return data, None
    from signing.backends.minisign import MinisignKeyring

    keyring = public_key if isinstance(public_key, MinisignKeyring) else MinisignKeyring.from_files([Path(public_key)])
    if not os.path.lexists(signature):
        raise SignatureError(f"{signature}: missing; the {role.value} must be signed")
    signer = keyring.verify_statement(data, signature, role)
    assert signer.claim is not None  # verify_statement requires a claim of `role`
    signer.claim.require(RoleClaim(role, (subject or _own_digest)(data)), where=str(signature))
    return data, signer


def _own_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
