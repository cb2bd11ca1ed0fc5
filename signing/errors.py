"""The errors `signing` raises: a small hierarchy a caller can catch by kind.

Every message is one line for a human that names what is wrong and where
(a path, a key id), so the CLI prints it unchanged. A failed verification is
not an error: `verify_bundle` returns a `Verdict` saying which check refused.

Each kind also says what it means to someone running a command
(`exit_status`): the thing examined was refused, or the command was asked
wrongly. The command line maps errors to exit codes by this, and only this.

The root, `PacksealError`, is defined in `attest.errors` and is the same
class here: `attest`'s errors derive from it too, so `except PacksealError`
catches anything either package raises.
"""

from enum import IntEnum
from typing import TYPE_CHECKING

from attest.errors import PacksealError as PacksealError
from attest.errors import ProvenanceError

if TYPE_CHECKING:
    from signing.verify import Verdict


class BundleError(PacksealError):
    """The bundle cannot be signed or read safely: unsafe path, special file, I/O error."""


class PinMismatchError(PacksealError):
    """The bundle is not what its source pin requires: refused, though the bundle itself reads fine.

    Its provenance is about another bundle, or names another repository,
    commit, ref or builder than the pin; or its digest is not the locked one.
    `expected` is the pinned value and `actual` the bundle's (a list when
    the provenance names several subjects), for a program to read.
    """

    def __init__(self, message: str, *, expected: str | None = None, actual: object = None) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class ArchiveError(BundleError):
    """An archive cannot be extracted safely: an unsafe member, a special file, or past a size limit."""


class NotABundleError(BundleError):
    """The path names no bundle (nothing exists there, or it lies inside `.packseal/`): asked wrongly."""


class KeyFileError(PacksealError):
    """A key is unusable: missing, malformed, of the wrong kind, or the password is wrong."""


class OutputError(PacksealError):
    """A result cannot be written: the file exists already, or the directory is not writable."""


class TrustPolicyError(PacksealError):
    """A trust policy cannot be used as given, for example one that trusts nobody."""


class SigningError(PacksealError):
    """A signature cannot be made as asked, for example an unprintable trusted comment."""


class SignatureError(PacksealError):
    """A signature does not verify; `verify_bundle` reports it as a failed check."""


class IdentityError(PacksealError):
    """No usable identity for Sigstore keyless signing: no token, or a malformed one."""


class SelfCheckError(PacksealError):
    """The running binary is not the recorded one, or the record cannot be trusted; refuse to start."""


class InstallRefused(PacksealError):
    """A bundle was not installed because its verification refused it; `verdict` holds every check that ran.

    Raised rather than returned, so that a caller of `signing.install` cannot
    take a refused bundle for an installed one.
    """

    def __init__(self, message: str, verdict: "Verdict") -> None:
        super().__init__(message)
        self.verdict = verdict


class AuditError(PacksealError):
    """The audit log cannot be written, or does not verify: a line edited, removed, inserted or reordered."""


class ExitStatus(IntEnum):
    """The exit status of every `packseal` command: the same meaning whatever the command."""

    DONE = 0
    """Verified, or done as asked."""
    REFUSED = 1
    """Verification failed, or what was given cannot be signed, attested or recorded as it is."""
    ASKED_WRONGLY = 2
    """A missing or unusable key, password, path, option, trust input or output place."""
    INTERRUPTED = 130
    """Ctrl-C, as a shell reports a process ended by SIGINT."""


_ASKED_WRONGLY: tuple[type[Exception], ...] = (
    NotABundleError,
    KeyFileError,
    OutputError,
    TrustPolicyError,
    SigningError,
    IdentityError,
    ProvenanceError,
)
"""Errors in what the caller gave: the key, password, options, trust input, build facts, output place."""


def exit_status(error: PacksealError) -> ExitStatus:
    """What an error means to someone running a command: asked wrongly, or refused."""
    return ExitStatus.ASKED_WRONGLY if isinstance(error, _ASKED_WRONGLY) else ExitStatus.REFUSED
