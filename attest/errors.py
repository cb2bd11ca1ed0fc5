"""The errors `attest` raises: one base class, one subclass per kind of input."""


class AttestError(ValueError):
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


class NotACheckoutError(GitError):
    """No `.git` at or above a path: it is in no checkout at all (unlike a `.git` that cannot be read)."""


class ProvenanceError(AttestError):
    """Provenance or the build facts it states are malformed, or name no single Git source."""
