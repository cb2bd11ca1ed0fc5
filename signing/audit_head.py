"""The head of an audit log, written to be stored elsewhere and, optionally, signed: what shows a cut tail.

Cutting events off the end of a log leaves a shorter chain that verifies.
Only a record of how far the log went, kept out of reach of whoever can
rewrite it, shows that: `write_head` writes the last event's number and
line hash as canonical JSON, and with a secret key a minisign signature
beside it (`HEAD.minisig`) in the `audit-head` role, whose trusted comment
reads `packseal audit-head sha256:<line hash>`. `read_head` refuses a head
whose signature is not by the named key, or is for another role or hash.
"""

from typing import TYPE_CHECKING

from signing.audit import AuditHead, AuditLog
from signing.audit_verify import CheckedHead
from signing.documents import read_document, write_document
from signing.files import PathLike
from signing.roles import Role

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
    write_document(
        out,
        head.to_bytes(),
        Role.AUDIT_HEAD,
        secret_key=secret_key,
        description=f"seq:{head.seq}",
        subject=head.hash.removeprefix("sha256:"),
    )
    return head


def read_head(path: PathLike, *, public_key: "PathLike | MinisignKeyring | None" = None) -> CheckedHead:
    """Read a head; with `public_key`, only if `path.minisig` is a valid `audit-head` signature of it by that key.

    A head can only add refusals to `audit verify`, so an unsigned one is read
    without a key; a signed one never is (its signer meant it to be checked).
    """
    data, signer = read_document(
        path,
        Role.AUDIT_HEAD,
        public_key=public_key,
        allow_unsigned=public_key is None,
        subject=lambda data: AuditHead.from_bytes(data, what=str(path)).hash.removeprefix("sha256:"),
    )
    head = AuditHead.from_bytes(data, what=str(path))
    return CheckedHead(head, f"the head {path} signed by {signer}" if signer else f"the unsigned head {path}")
