"""Sign a bundle, or attest its provenance: one path for every signing system.

A directory is signed through its manifest Statement; a single file
directly. Provenance is a second Statement beside either. Everything that
can fail (the rules verification applies to `.packseal/`, walking and
hashing, the size limit verification reads up to, a directory where a file
goes, obtaining the signature) happens before anything is written, and the
results are then written together or not at all (`signing.files`): a
signature that verification would refuse is never made.

Statements are deterministic for the same content (the manifest holds no
time), so a minisign and a Sigstore signature can cover the same file. When
a Statement is rewritten with different bytes, the signatures over the old
bytes are removed: they could only ever fail.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import minisign

from attest.canonical import MAX_DOCUMENT_BYTES
from attest.errors import ManifestError
from attest.manifest import SIGNATURE_DIR, check_version, manifest_statement
from attest.statement import Subject
from signing.backends import BundleSigning
from signing.backends.minisign import MinisignSigning
from signing.bundle import directory_manifest
from signing.digest import file_digest
from signing.errors import BundleError, SigningError
from signing.files import PathLike, check_replaceable, read_regular_file, replace_together
from signing.layout import DirectoryLayout, FileLayout, resolve_bundle, statement_signatures
from signing.progress import Progress
from signing.roles import Role, RoleClaim

if TYPE_CHECKING:
    from sigstore.oidc import IdentityToken

    # Only attesting reads the checkout (Git, through dulwich) and builds provenance (protobuf): imported
    # there, so signing does not load them.
    from attest.build_facts import ExplicitSource
    from attest.provenance import BuildFacts
    from signing.backends.sigstore import SigstoreInstance


@dataclass(frozen=True)
class SignedBundle:
    """What was signed and the files written.

    `digest` is `sha256:<hex>`, the form a `Verdict` and the CLI show: the
    tree digest of a directory, or the digest of a single file.
    """

    path: Path
    digest: str
    written: tuple[Path, ...]


def sign_bundle(
    path: PathLike,
    signing: BundleSigning,
    *,
    output_dir: PathLike | None = None,
    version: str | None = None,
    progress: Progress | None = None,
) -> SignedBundle:
    """Sign a directory (`.packseal/manifest.json` and its signature) or a single file.

    With `output_dir`, what would go into `.packseal/` (or beside the file)
    goes there instead and nothing is written in the bundle, which may be
    read-only; `verify_bundle(..., signatures_dir=)` reads it back.
    `version` is signed into a directory's manifest Statement, for
    installers' rollback protection; a single file is signed as it is,
    with no Statement to carry one, so it cannot be given a version.
    `progress` is told of a directory's files as they are hashed.
    """
    path = Path(path)
    apart = None if output_dir is None else Path(output_dir)
    name = _bundle_name(path)
    if version is not None:
        _check_signable_version(path, version)
    if path.is_dir():
        layout = DirectoryLayout(path, apart)
        layout.check_signable()
        manifest = directory_manifest(path, progress=progress)
        statement = manifest_statement(name, manifest, version=version).to_bytes()
        claim = RoleClaim(Role.BUNDLE_MANIFEST, manifest.digest)
        return _publish_statement(path, layout.manifest, statement, claim, _printable(name), signing)
    digest = file_digest(path)
    file_layout = FileLayout(path, apart)
    check_replaceable((file_layout.minisig, file_layout.sigstore))
    beside, signature = signing.sign_file(path, digest, _printable(name))
    signature_path = file_layout.sidecar(beside)
    replace_together({signature_path: signature})
    return SignedBundle(path, f"sha256:{digest.sha256}", (signature_path,))


def bundle_build_facts(
    path: PathLike,
    source: "ExplicitSource | None" = None,
    *,
    environment: Mapping[str, str] | None = None,
    allow_dirty: bool = False,
) -> "BuildFacts":
    """The build facts to attest `path` with: `gather_build_facts`, knowing packseal's own files.

    The signatures packseal writes (`.packseal/` in a directory, the sidecars
    beside a single file: `FileLayout.signature_files`) are not changes to
    the source, so signing before attesting leaves the checkout clean. This
    is the rule `packseal attest` applies; `environment` defaults to
    `os.environ` (where GitHub Actions states the job).
    """
    from attest.build_facts import ExplicitSource, gather_build_facts

    path = Path(path)
    sidecars = FileLayout(path).signature_files() if path.is_file() else set()
    return gather_build_facts(
        path,
        os.environ if environment is None else environment,
        source or ExplicitSource(),
        allow_dirty=allow_dirty,
        signature_files=sidecars,
        signature_dir=SIGNATURE_DIR,
    )


def attest_bundle(
    path: PathLike,
    facts: "BuildFacts",
    signing: BundleSigning,
    *,
    started_on: datetime,
    output_dir: PathLike | None = None,
    progress: Progress | None = None,
) -> SignedBundle:
    """Write and sign SLSA provenance whose subject is the bundle's digest.

    A directory gets `.packseal/provenance.json`; a file `X` gets
    `X.provenance.json`; each with its signature beside it. With
    `output_dir`, they go there instead, as in `sign_bundle`; `progress`
    as there.
    """
    from attest.provenance import provenance_statement

    path = Path(path)
    apart = None if output_dir is None else Path(output_dir)
    name = _bundle_name(path)
    if path.is_dir():
        layout = DirectoryLayout(path, apart)
        layout.check_signable()
        digest = directory_manifest(path, progress=progress).digest
        statement_path = layout.provenance
    else:
        digest = file_digest(path).sha256
        statement_path = FileLayout(path, apart).provenance
    statement = provenance_statement(
        Subject(name=name, sha256=digest), facts, started_on=started_on, finished_on=datetime.now(UTC)
    ).to_bytes()
    description = f"{_printable(name)} commit:{facts.source_commit}"
    return _publish_statement(path, statement_path, statement, RoleClaim(Role.PROVENANCE, digest), description, signing)


def sign_with_minisign(
    path: PathLike, secret_key: minisign.SecretKey, *, trusted_comment: str | None = None, version: str | None = None
) -> SignedBundle:
    """Sign a directory or file with an unlocked minisign secret key (see `MinisignSigning`, and `sign_bundle`)."""
    return sign_bundle(path, MinisignSigning(secret_key, trusted_comment), version=version)


def sign_with_sigstore(
    path: PathLike, instance: "SigstoreInstance", token: "IdentityToken", *, version: str | None = None
) -> SignedBundle:
    """Sign keylessly as `token`'s identity; a file's bundle is exactly what `sigstore sign` writes."""
    from signing.backends.sigstore import SigstoreSigning

    return sign_bundle(path, SigstoreSigning(instance, token), version=version)


def _bundle_name(path: Path) -> str:
    """The name a bundle is signed under; refuse what cannot be a bundle at all."""
    resolved = resolve_bundle(path)
    try:
        resolved.name.encode("utf-8")
    except UnicodeEncodeError:
        raise BundleError(f"{str(path)!a}: a bundle name must be valid UTF-8") from None
    return resolved.name


def _check_signable_version(path: Path, version: str) -> None:
    """Refuse, before any work, a version the manifest would refuse, or one for a bundle with no manifest."""
    if not path.is_dir():
        raise SigningError(
            f"{path}: a single file is signed as it is, with no manifest Statement to carry a version; "
            "sign a directory bundle to give it one"
        )
    try:
        check_version(version)
    except ManifestError as err:
        raise SigningError(f"{path}: {err}") from None


def _printable(name: str) -> str:
    """The name in the printable ASCII that a minisign trusted comment allows."""
    return ascii(name)[1:-1]


def _publish_statement(
    path: Path, statement_path: Path, statement: bytes, claim: RoleClaim, description: str, signing: BundleSigning
) -> SignedBundle:
    """Sign a Statement and write it with its signature; a changed Statement loses its other signatures."""
    if len(statement) > MAX_DOCUMENT_BYTES:
        raise BundleError(
            f"{path}: {statement_path.name} would be {len(statement)} bytes, over the {MAX_DOCUMENT_BYTES} "
            "byte limit verification reads; split the bundle"
        )
    signatures = statement_signatures(statement_path)
    check_replaceable({statement_path, *signatures})
    signature_path, signature = signing.sign_statement(statement_path, statement, claim, description)
    try:
        unchanged = read_regular_file(statement_path, MAX_DOCUMENT_BYTES) == statement
    except BundleError:
        unchanged = False
    stale = set() if unchanged else signatures - {signature_path}
    replace_together({statement_path: statement, signature_path: signature}, remove=stale)
    return SignedBundle(path, f"sha256:{claim.sha256}", (statement_path, signature_path))
