"""Sign a bundle: a directory through its manifest Statement, a file directly.

Everything that can fail (walking and hashing the bundle, parsing the
comment, obtaining the signature) happens before anything is written, and
the results are then written together or not at all (`signing.files`).

The manifest Statement is deterministic (no time in it), so a minisign and
a Sigstore signature can both cover the same `manifest.json`. When the
content changed and `manifest.json` is rewritten, the signatures over the
old bytes are removed: they could only ever fail.
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import minisign

from attest.canonical import MAX_DOCUMENT_BYTES
from attest.manifest import Manifest, manifest_statement
from signing.backends import minisign as minisign_backend
from signing.bundle import directory_manifest, file_digest, open_regular_file, read_regular_file
from signing.errors import BundleError
from signing.files import replace_together
from signing.layout import DirectoryLayout, FileLayout

if TYPE_CHECKING:
    from sigstore.oidc import IdentityToken

    from signing.backends.sigstore import SigstoreInstance


@dataclass(frozen=True)
class SignedBundle:
    """What was signed (the bundle digest, hex sha256) and the files written."""

    path: Path
    digest: str
    written: tuple[Path, ...]


def sign_with_minisign(
    path: Path, secret_key: minisign.SecretKey, *, trusted_comment: str | None = None
) -> SignedBundle:
    """Sign a directory or a single file with an unlocked minisign secret key.

    A directory gets `.packseal/manifest.json` and its `.minisig`; a file
    gets `PATH.minisig`. The default trusted comment binds the signature to
    the bundle's name and digest, which minisign shows on verification.
    """
    if _is_directory(path):
        layout = DirectoryLayout(path)
        manifest, statement = _statement_of(path)
        comment = trusted_comment or default_trusted_comment(path, manifest.digest)
        signature = minisign_backend.sign(secret_key, statement, comment)
        return _publish_statement(layout, manifest, statement, layout.manifest_minisig, signature)
    digest = file_digest(path).sha256
    comment = trusted_comment or default_trusted_comment(path, digest)
    try:
        with open_regular_file(path) as stream:
            signature = minisign_backend.sign(secret_key, stream, comment)
    except OSError as err:
        raise BundleError(f"{path}: {err.strerror or err}") from None
    return _publish_file(path, digest, FileLayout(path).minisig, signature)


def sign_with_sigstore(path: Path, instance: "SigstoreInstance", token: "IdentityToken") -> SignedBundle:
    """Sign a directory or a single file keylessly, as `token`'s identity.

    A directory gets `.packseal/manifest.json` and `manifest.sigstore.json`
    (DSSE over the Statement); a file gets `PATH.sigstore.json`, exactly as
    `sigstore sign` writes it, so `sigstore verify identity PATH` accepts it.
    """
    from signing.backends import sigstore as sigstore_backend

    if _is_directory(path):
        layout = DirectoryLayout(path)
        manifest, statement = _statement_of(path)
        bundle = sigstore_backend.sign_statement(statement, instance, token)
        return _publish_statement(layout, manifest, statement, layout.manifest_sigstore, bundle)
    digest = file_digest(path)
    bundle = sigstore_backend.sign_digest(digest, instance, token)
    return _publish_file(path, digest.sha256, FileLayout(path).sigstore, bundle)


def default_trusted_comment(path: Path, digest: str) -> str:
    """`packseal bundle NAME sha256:DIGEST timestamp:T`, in the printable ASCII minisign allows."""
    name = ascii(path.resolve().name)[1:-1]
    return f"packseal bundle {name} sha256:{digest} timestamp:{int(time.time())}"


def _is_directory(path: Path) -> bool:
    if not os.path.lexists(path):
        raise BundleError(f"{path}: no such file or directory")
    return path.is_dir()


def _statement_of(root: Path) -> tuple[Manifest, bytes]:
    manifest = directory_manifest(root)
    return manifest, manifest_statement(root.resolve().name, manifest).to_bytes()


def _publish_statement(
    layout: DirectoryLayout, manifest: Manifest, statement: bytes, signature_path: Path, signature: bytes
) -> SignedBundle:
    try:
        unchanged = read_regular_file(layout.manifest, MAX_DOCUMENT_BYTES) == statement
    except BundleError:
        unchanged = False
    replace_together({layout.manifest: statement, signature_path: signature})
    if not unchanged:
        for stale in layout.manifest_signatures() - {signature_path}:
            stale.unlink(missing_ok=True)
    return SignedBundle(layout.root, manifest.digest, (layout.manifest, signature_path))


def _publish_file(path: Path, digest: str, signature_path: Path, signature: bytes) -> SignedBundle:
    replace_together({signature_path: signature})
    return SignedBundle(path, digest, (signature_path,))
