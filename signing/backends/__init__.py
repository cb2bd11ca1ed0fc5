"""Signing systems: one module each, behind the small interface `verify_bundle` uses.

`minisign` (offline keys) and `sigstore` (keyless, imported only when used)
both verify the same two things: a signature over a directory's manifest
Statement bytes, and a signature over a single file.
"""

from pathlib import Path
from typing import Protocol

from signing.digest import FileDigest
from signing.layout import DirectoryLayout, FileLayout


class Signer(Protocol):
    """Who signed, as the signing system can establish it."""

    def __str__(self) -> str:
        """A short name of the signer, for the verdict's `signer` field."""
        ...

    @property
    def detail(self) -> str:
        """Everything the signature says about its signer, in one line."""
        ...


class BundleVerifier(Protocol):
    """What `verify_bundle` needs from a signing system the installer trusts."""

    def statement_signature(self, layout: DirectoryLayout) -> Path:
        """Where a directory keeps this system's signature over its manifest."""
        ...

    def file_signature(self, layout: FileLayout) -> Path:
        """Where a single file keeps this system's signature."""
        ...

    def verify_statement(self, statement: bytes, signature: Path) -> Signer:
        """Verify a signature over manifest Statement bytes; raise `SignatureError` if it fails."""
        ...

    def verify_file(self, path: Path, signature: Path) -> tuple[Signer, FileDigest]:
        """Verify a signature over a file; raise `SignatureError` if it fails."""
        ...
