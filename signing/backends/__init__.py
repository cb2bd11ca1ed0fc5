"""Signing systems: one module each, behind the two small interfaces below.

`minisign` (offline keys) and `sigstore` (keyless, imported only when used)
both sign and verify the same two things: the bytes of a packseal Statement
(a directory's manifest, or provenance), and a single file.
"""

from pathlib import Path
from typing import Protocol

from signing.digest import FileDigest
from signing.roles import Role, RoleClaim


class Signer(Protocol):
    """Who signed, as the signing system can establish it."""

    def __str__(self) -> str:
        """A short name of the signer, for a human."""
        ...

    def to_json(self) -> dict[str, str]:
        """The signer for a program: `system` (`minisign`, `sigstore`) and what that system establishes.

        `{"system": "minisign", "key_id": ...}` or
        `{"system": "sigstore", "identity": ..., "issuer": ...}`.
        """
        ...

    @property
    def detail(self) -> str:
        """Everything the signature says about its signer, in one line."""
        ...

    @property
    def claim(self) -> RoleClaim | None:
        """The role and subject the signature states beside what it signs (`signing.roles`).

        A minisign signature states them in its trusted comment, and one over
        a Statement or record always does (`verify_statement` refuses it
        otherwise). None when nothing beside the content states them: a
        Sigstore DSSE signature, whose signed payload is the Statement itself
        (its predicate type is the role, which `verify_statement` checks, and
        its subject is checked where the Statement is parsed), or a stock
        signature over a single file.
        """
        ...


class BundleSigning(Protocol):
    """What `sign_bundle` and `attest_bundle` need: a signature, and where it goes."""

    def sign_statement(
        self, statement_path: Path, statement: bytes, claim: RoleClaim, description: str
    ) -> tuple[Path, bytes]:
        """A signature over Statement bytes that will be stored at `statement_path`.

        `claim` is the role and subject the signature must state; systems that
        sign a comment along with the content state it there, with
        `description` (the bundle's name) after it.
        """
        ...

    def sign_file(self, path: Path, digest: FileDigest, description: str) -> tuple[Path, bytes]:
        """A signature over a single file, whose digest was computed already, in the file role."""
        ...


class BundleVerifier(Protocol):
    """What `verify_bundle` needs from a signing system the installer trusts."""

    @property
    def system(self) -> str:
        """The signing system, "minisign" or "sigstore": which of `SignaturePaths` is this verifier's."""
        ...

    def statement_signature(self, statement_path: Path) -> Path:
        """Where this system keeps its signature over a Statement file."""
        ...

    def file_signature(self, path: Path) -> Path:
        """Where this system keeps its signature over a single file."""
        ...

    def verify_statement(self, statement: bytes, signature: Path, role: Role) -> Signer:
        """Verify a signature over Statement bytes made for `role`; raise `SignatureError` if it fails.

        The returned signer's `claim` names the subject the signature states;
        the caller checks it against the subject of the Statement it parses.
        """
        ...

    def verify_file(self, path: Path, signature: Path) -> tuple[Signer, FileDigest]:
        """Verify a signature over a file, refusing one made for any other role."""
        ...
