"""The head of an audit log, written to be stored elsewhere and, optionally, signed: what shows a cut tail.

Cutting events off the end of a log leaves a shorter chain that verifies.
Only a record of how far the log went, kept out of reach of whoever can
rewrite it, shows that: `write_head` writes the last event's number and
line hash as canonical JSON, and with a secret key a minisign signature
beside it (`HEAD.minisig`) in the `audit-head` role, whose trusted comment
reads `packseal audit-head sha256:<line hash>`. `read_head` refuses a head
whose signature is not by the named key, or is for another role or hash.
"""

import os
from pathlib import Path
from typing import TYPE_CHECKING

from signing.audit import AuditHead, AuditLog
from signing.audit_verify import CheckedHead
from signing.errors import OutputError
from signing.files import PathLike, replace_together
from signing.layout import minisign_signature
from signing.roles import Role, RoleClaim

if TYPE_CHECKING:
    import minisign

    from signing.backends.minisign import MinisignKeyring


def write_head(log: AuditLog, out: PathLike, *, secret_key: "minisign.SecretKey | None" = None) -> AuditHead:
    """Write the head of `log` to `out`, and `out.minisig` when a secret key is given, together or not at all.

    Without a key, an existing `out.minisig` is refused rather than left
    beside a head it does not cover. The head is taken from the log's last
    complete event; the chain before it is not verified here (`verify_log`).
    """
    head = log.head()
    data = head.to_bytes()
    signature = minisign_signature(Path(out))
    if secret_key is not None:
        from signing.backends import minisign as minisign_backend

        comment = RoleClaim(Role.AUDIT_HEAD, head.hash.removeprefix("sha256:")).trusted_comment(f"seq:{head.seq}")
        replace_together({Path(out): data, signature: minisign_backend.sign(secret_key, data, comment)})
    elif os.path.lexists(signature):
        raise OutputError(f"{signature}: exists, and would not cover an unsigned head; remove it first")
    else:
        replace_together({Path(out): data})
    return head


def read_head(path: PathLike, *, public_key: "PathLike | MinisignKeyring | None" = None) -> CheckedHead:
    """Read a head; with `public_key`, only if `path.minisig` is a valid `audit-head` signature of it by that key."""
    from signing.backends.minisign import MinisignKeyring

    head = AuditHead.read(path)
    if public_key is None:
        return CheckedHead(head, f"the unsigned head {path}")
    keyring = public_key if isinstance(public_key, MinisignKeyring) else MinisignKeyring.from_files([public_key])
    signature = minisign_signature(Path(path))
    signer = keyring.verify_statement(head.to_bytes(), signature, Role.AUDIT_HEAD)
    assert signer.claim is not None
    signer.claim.require(RoleClaim(Role.AUDIT_HEAD, head.hash.removeprefix("sha256:")), where=str(signature))
    return CheckedHead(head, f"the head {path} signed by {signer}")
