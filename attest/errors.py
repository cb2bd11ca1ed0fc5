"""The errors `attest` raises, and the root of every error packseal raises.

`PacksealError` lives here, in the package that depends on nothing, so that
`signing` (which may import `attest`, never the reverse) derives its errors
from the same root: a caller catches anything packseal raises with one
`except PacksealError`. `signing.errors` re-exports it under the same name.
"""


class PacksealError(Exception):
    """Base of every error packseal raises for bad input or a failed operation."""


class AttestError(PacksealError, ValueError):
    """Base of every error raised by `attest`: the input is not what it claims to be.

    The message is one line meant for a human; it names the document and the
    field at fault, so a command-line front end can print it unchanged.
    """


class CanonicalJSONError(AttestError):
    """Bytes that should be RFC 8785 canonical JSON are not, or exceed a limit."""


class ManifestError(AttestError):
    """A bundle manifest breaks a rule: unsafe path, collision, bad entry."""


class StatementError(AttestError):
    """An in-toto Statement is malformed or is not the kind that was expected."""


class GitError(AttestError):
    """Git state cannot be read, or is not what was required."""


class ProvenanceError(AttestError):
    """Provenance or the build facts it states are malformed, or name no single Git source."""
