"""What a full Git commit id is: a rule about a string, which needs no repository (and no dulwich).

Pins, lock files and provenance check commit ids while verifying a bundle;
that path must not import the Git reader (`attest.git`) to do it.
"""

import re

from attest.errors import GitError

_FULL_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def check_full_commit(commit: str, *, what: str = "commit") -> str:
    """Return `commit` if it is a full SHA-1 or SHA-256 commit id; refuse abbreviations."""
    if not _FULL_COMMIT.fullmatch(commit):
        raise GitError(
            f"{what} {commit!r} is not a full commit id (40 or 64 lowercase hex digits); "
            "abbreviated ids are ambiguous and refused"
        )
    return commit
