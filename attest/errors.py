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


class NotACheckoutError(GitError):
    """No `.git` at or above a path: it is in no checkout at all (unlike a `.git` that cannot be read)."""


class ProvenanceError(AttestError):
    """Provenance or the build facts it states are malformed, or name no single Git source."""


def os_error_reason(err: OSError) -> str:
    """Why an operating-system call failed, in the system's words: "No such file or directory".

    `str(err)` would add the errno and repeat the file name, which the
    message already names where the caller chose.
    """
    return err.strerror or str(err)


def os_error_line(path: object, err: OSError, doing: str | None = None) -> str:
    """One line for an error message: `PATH: REASON`, or `PATH: cannot DOING: REASON`."""
    action = f"cannot {doing}: " if doing else ""
    return f"{path}: {action}{os_error_reason(err)}"
