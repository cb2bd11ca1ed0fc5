"""Sign a bundle: a directory through its manifest Statement, a file directly.

Everything that can fail (walking and hashing the bundle, parsing the
comment, signing) happens before anything is written, and the results are
then written together or not at all (`signing.files`).
"""

import time
from dataclasses import dataclass
from pathlib import Path

import minisign

from attest.manifest import manifest_statement
from signing.backends import minisign as minisign_backend
from signing.bundle import directory_manifest, file_digest, open_regular_file
from signing.errors import BundleError
from signing.files import replace_together
from signing.layout import DirectoryLayout, FileLayout


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
    if path.is_dir():
        return _sign_directory(path, secret_key, trusted_comment)
    if path.is_file():
        return _sign_file(path, secret_key, trusted_comment)
    raise BundleError(f"{path}: no such file or directory")


def _sign_directory(root: Path, secret_key: minisign.SecretKey, trusted_comment: str | None) -> SignedBundle:
    layout = DirectoryLayout(root)
    manifest = directory_manifest(root)
    statement = manifest_statement(root.resolve().name, manifest).to_bytes()
    comment = trusted_comment or default_trusted_comment(root, manifest.digest)
    signature = minisign_backend.sign(secret_key, statement, comment)
    replace_together({layout.manifest: statement, layout.manifest_minisig: signature})
    return SignedBundle(root, manifest.digest, (layout.manifest, layout.manifest_minisig))


def _sign_file(path: Path, secret_key: minisign.SecretKey, trusted_comment: str | None) -> SignedBundle:
    layout = FileLayout(path)
    digest = file_digest(path).sha256
    comment = trusted_comment or default_trusted_comment(path, digest)
    try:
        with open_regular_file(path) as stream:
            signature = minisign_backend.sign(secret_key, stream, comment)
    except OSError as err:
        raise BundleError(f"{path}: {err.strerror or err}") from None
    replace_together({layout.minisig: signature})
    return SignedBundle(path, digest, (layout.minisig,))


def default_trusted_comment(path: Path, digest: str) -> str:
    """`packseal bundle NAME sha256:DIGEST timestamp:T`, in the printable ASCII minisign allows."""
    name = ascii(path.resolve().name)[1:-1]
    return f"packseal bundle {name} sha256:{digest} timestamp:{int(time.time())}"
