"""Signing systems: one module each, behind the two small interfaces below.

`minisign` (offline keys) and `sigstore` (keyless, imported only when used)
both sign and verify the same two things: the bytes of a packseal Statement
(a directory's manifest, or provenance), and a single file.
"""

from pathlib import Path
from typing import Protocol

from signing.digest import FileDigest


class Signer(Protocol):
    """Who signed, as the signing system can establish it."""

    def __str__(self) -> str:
        """A short name of the signer, for the verdict's `signer` field."""
        ...

    @property
    def detail(self) -> str:
        """Everything the signature says about its signer, in one line."""
        ...


class BundleSigning(Protocol):
    """What `sign_bundle` and `attest_bundle` need: a signature, and where it goes."""

    def sign_statement(self, statement_path: Path, statement: bytes, description: str) -> tuple[Path, bytes]:
        """A signature over Statement bytes that will be stored at `statement_path`.

        `description` (for example `bundle NAME sha256:DIGEST`) is for systems
        that sign a comment along with the content.
        """
        ...

    def sign_file(self, path: Path, digest: FileDigest, description: str) -> tuple[Path, bytes]:
        """A signature over a single file, whose digest was computed already."""
        ...


class BundleVerifier(Protocol):
    """What `verify_bundle` needs from a signing system the installer trusts."""

    def statement_signature(self, statement_path: Path) -> Path:
        """Where this system keeps its signature over a Statement file."""
        ...

    def file_signature(self, path: Path) -> Path:
        """Where this system keeps its signature over a single file."""
        ...

    def verify_statement(self, statement: bytes, signature: Path) -> Signer:
        """Verify a signature over Statement bytes; raise `SignatureError` if it fails."""
        ...

    def verify_file(self, path: Path, signature: Path) -> tuple[Signer, FileDigest]:
        """Verify a signature over a file; raise `SignatureError` if it fails."""
        ...
