"""What a signature is for: its role and its subject, stated inside what is signed.

One release key signs many things: bundle manifests, provenance, self-check
records, release files. A signature that only says "this key signed these
bytes" is valid in every role those bytes fit: a release file whose bytes
an attacker chose, signed as a file, would pass as a bundle's manifest. So
every packseal signature names its role and the sha256 of its subject in
the part the signature covers, and each verification requires its own role
and digest:

- minisign: the trusted comment, which minisign's global signature covers,
  reads `packseal <role> sha256:<hex>`, optionally followed by a space and
  free text (the bundle name, a time). Stock minisign users sign a manifest
  by hand with `minisign -Sm manifest.json -t 'packseal bundle-manifest
  sha256:<tree digest>'`.
- Sigstore: the signed DSSE payload is the in-toto Statement itself; its
  predicate type is the role and its subject is the digest.

A single file may carry a stock minisign signature, whose trusted comment
is minisign's own; but a comment that starts with `packseal` must be a
well-formed claim of the file role, so no packseal signature made for
another role, and no earlier packseal format, ever verifies as a file's.
"""

import enum
import re
from dataclasses import dataclass

from attest.statement import SHA256_HEX
from signing.errors import SignatureError

_PREFIX = "packseal"
_CLAIM = re.compile(
    rf"{_PREFIX} (?P<role>[a-z-]+) sha256:(?P<sha256>{SHA256_HEX.pattern})(?: (?P<detail>.*))?", re.DOTALL
)


class Role(enum.Enum):
    """The kinds of thing packseal signs; each signature is valid in exactly one."""

    BUNDLE_MANIFEST = "bundle-manifest"
    """A directory's manifest Statement; subject: the tree digest."""
    PROVENANCE = "provenance"
    """SLSA provenance; subject: the digest of the bundle it is about."""
    SELF_RECORD = "self-record"
    """A self-check record; subject: the digest of the recorded executable."""
    FILE = "file"
    """A single-file bundle; subject: the file's sha256."""
    AUDIT_HEAD = "audit-head"
    """The head of an audit log (`signing.audit_head`); subject: the hash of its last event's line."""

    @property
    def predicate_type(self) -> str | None:
        """The predicate type of the in-toto Statement signed in this role; None if it signs no Statement.

        Imported here, not at module level: the startup self-check imports
        this module and must not load the provenance model.
        """
        from attest.manifest import BUNDLE_MANIFEST_PREDICATE_TYPE
        from attest.provenance import PROVENANCE_PREDICATE_TYPE

        return {Role.BUNDLE_MANIFEST: BUNDLE_MANIFEST_PREDICATE_TYPE, Role.PROVENANCE: PROVENANCE_PREDICATE_TYPE}.get(
            self
        )


@dataclass(frozen=True)
class RoleClaim:
    """A role and a subject digest, as a signature states them."""

    role: Role
    sha256: str

    def __post_init__(self) -> None:
        if not SHA256_HEX.fullmatch(self.sha256):
            raise ValueError(f"subject digest {self.sha256!r} is not 64 lowercase hex digits")

    def trusted_comment(self, detail: str | None = None) -> str:
        """The minisign trusted comment stating this claim, with optional free text after it."""
        comment = f"{_PREFIX} {self.role.value} sha256:{self.sha256}"
        return f"{comment} {detail}" if detail else comment

    @classmethod
    def from_trusted_comment(cls, comment: str, *, where: str) -> "RoleClaim | None":
        """The claim a trusted comment states; None for a comment that is not packseal's.

        A comment whose first word is `packseal` (whatever whitespace
        surrounds it) but that is not a well-formed claim of a known role is
        refused, never read as "no claim": it was made by packseal, or to
        look like packseal's, for something this version does not accept.
        """
        if comment.split(maxsplit=1)[:1] != [_PREFIX]:
            return None
        match = _CLAIM.fullmatch(comment)
        roles = {role.value: role for role in Role}
        if match is None or match["role"] not in roles:
            raise SignatureError(
                f"{where}: trusted comment {comment!r} is not a packseal role claim "
                f"('{_PREFIX} <role> sha256:<digest>'); re-sign with this version of packseal"
            )
        return cls(roles[match["role"]], match["sha256"])

    @classmethod
    def required_in(cls, comment: str, role: Role, *, where: str) -> "RoleClaim":
        """The claim a Statement's or record's signature states, which must be of `role`.

        Unlike a file's, such a signature cannot be a stock one: bytes signed
        without a claim were signed as a plain file, and are no Statement of
        any role. The caller checks the claimed subject once it knows it.
        """
        claim = cls.from_trusted_comment(comment, where=where)
        if claim is None:
            raise SignatureError(
                f"{where}: trusted comment {comment!r} claims no packseal role; "
                f"a {role.value} signature must state '{_PREFIX} {role.value} sha256:<digest>'"
            )
        claim.require_role(role, where=where)
        return claim

    def require_role(self, role: Role, *, where: str) -> None:
        """Refuse a signature made for another role."""
        if self.role is not role:
            raise SignatureError(
                f"{where}: signature is for a {self.role.value}, not a {role.value}; "
                "a signature made for one role never verifies in another"
            )

    def require(self, expected: "RoleClaim", *, where: str) -> None:
        """Refuse a signature whose claim is not exactly `expected`: its role and its subject."""
        self.require_role(expected.role, where=where)
        if self.sha256 != expected.sha256:
            raise SignatureError(
                f"{where}: signature is for the {self.role.value} of sha256:{self.sha256}, not sha256:{expected.sha256}"
            )
