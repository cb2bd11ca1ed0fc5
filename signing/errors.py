"""The errors `signing` raises: a small hierarchy a caller can catch by kind.

Every message is one line for a human that names what is wrong and where
(a path, a key id), so the CLI prints it unchanged. A failed verification is
not an error: `verify_bundle` returns a `Verdict` saying which check refused.
"""


class PacksealError(Exception):
    """Base of every error packseal raises for bad input or a failed operation."""


class BundleError(PacksealError):
    """The bundle cannot be signed or read safely: unsafe path, special file, I/O error."""


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
