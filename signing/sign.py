"""Sign a bundle, or attest its provenance: one path for every signing system.

A directory is signed through its manifest Statement; a single file
directly. Provenance is a second Statement beside either. Everything that
can fail (walking and hashing, building the Statement, obtaining the
signature) happens before anything is written, and the results are then
written together or not at all (`signing.files`).

Statements are deterministic for the same content (the manifest holds no
time), so a minisign and a Sigstore signature can cover the same file. When
a Statement is rewritten with different bytes, the signatures over the old
bytes are removed: they could only ever fail.
"""

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import minisign

from attest.canonical import MAX_DOCUMENT_BYTES
from attest.manifest import SIGNATURE_DIR, manifest_statement
from attest.provenance import BuildFacts, provenance_statement
from attest.statement import Subject
from signing.backends import BundleSigning
from signing.backends.minisign import MinisignSigning
from signing.bundle import directory_manifest, file_digest, read_regular_file
from signing.errors import BundleError, BundleNotFoundError
from signing.files import replace_together
from signing.layout import DirectoryLayout, FileLayout, statement_signatures

if TYPE_CHECKING:
    from sigstore.oidc import IdentityToken

    from signing.backends.sigstore import SigstoreInstance


@dataclass(frozen=True)
class SignedBundle:
    """What was signed (the bundle digest, hex sha256) and the files written."""

    path: Path
    digest: str
    written: tuple[Path, ...]


def sign_bundle(path: Path, signing: BundleSigning) -> SignedBundle:
    """Sign a directory (`.packseal/manifest.json` and its signature) or a single file."""
    name = _bundle_name(path)
    if path.is_dir():
        layout = DirectoryLayout(path)
        manifest = directory_manifest(path)
        statement = manifest_statement(name, manifest).to_bytes()
        description = f"bundle {_printable(name)} sha256:{manifest.digest}"
        return _publish_statement(path, layout.manifest, statement, manifest.digest, description, signing)
    digest = file_digest(path)
    signature_path, signature = signing.sign_file(path, digest, f"bundle {_printable(name)} sha256:{digest.sha256}")
    replace_together({signature_path: signature})
    return SignedBundle(path, digest.sha256, (signature_path,))


def attest_bundle(path: Path, facts: BuildFacts, signing: BundleSigning, *, started_on: datetime) -> SignedBundle:
    """Write and sign SLSA provenance whose subject is the bundle's digest.

    A directory gets `.packseal/provenance.json`; a file `X` gets
    `X.provenance.json`; each with its signature beside it.
    """
    name = _bundle_name(path)
    if path.is_dir():
        digest = directory_manifest(path).digest
        statement_path = DirectoryLayout(path).provenance
    else:
        digest = file_digest(path).sha256
        statement_path = FileLayout(path).provenance
    statement = provenance_statement(
        Subject(name=name, sha256=digest), facts, started_on=started_on, finished_on=datetime.now(timezone.utc)
    ).to_bytes()
    description = f"provenance {_printable(name)} sha256:{digest} commit:{facts.source_commit}"
    return _publish_statement(path, statement_path, statement, digest, description, signing)


def sign_with_minisign(
    path: Path, secret_key: minisign.SecretKey, *, trusted_comment: str | None = None
) -> SignedBundle:
    """Sign a directory or file with an unlocked minisign secret key (see `MinisignSigning`)."""
    return sign_bundle(path, MinisignSigning(secret_key, trusted_comment))


def sign_with_sigstore(path: Path, instance: "SigstoreInstance", token: "IdentityToken") -> SignedBundle:
    """Sign keylessly as `token`'s identity; a file's bundle is exactly what `sigstore sign` writes."""
    from signing.backends.sigstore import SigstoreSigning

    return sign_bundle(path, SigstoreSigning(instance, token))


def _bundle_name(path: Path) -> str:
    """The name a bundle is signed under; refuse what cannot be a bundle at all."""
    if not path.exists():
        raise BundleNotFoundError(f"{path}: no such file or directory")
    resolved = path.resolve()
    if SIGNATURE_DIR in resolved.parts:
        raise BundleError(f"{path}: inside {SIGNATURE_DIR}/, which holds signatures, not bundles")
    try:
        resolved.name.encode("utf-8")
    except UnicodeEncodeError:
        raise BundleError(f"{str(path)!a}: a bundle name must be valid UTF-8") from None
    return resolved.name


def _printable(name: str) -> str:
    """The name in the printable ASCII that a minisign trusted comment allows."""
    return ascii(name)[1:-1]


def _publish_statement(
    path: Path, statement_path: Path, statement: bytes, digest: str, description: str, signing: BundleSigning
) -> SignedBundle:
    signature_path, signature = signing.sign_statement(statement_path, statement, description)
    try:
        unchanged = read_regular_file(statement_path, MAX_DOCUMENT_BYTES) == statement
    except BundleError:
        unchanged = False
    replace_together({statement_path: statement, signature_path: signature})
    if not unchanged:
        for stale in statement_signatures(statement_path) - {signature_path}:
            stale.unlink(missing_ok=True)
    return SignedBundle(path, digest, (statement_path, signature_path))
