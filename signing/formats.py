"""Whether a file in `.packseal/` is what its name says, checked without the trust to verify it.

`.packseal/` is not covered by the manifest, so whatever it holds rides
along into the install. Verification reads only what its policy and pins
need: the manifest with the signatures of the policy's systems, and
provenance with them when a source is pinned. Any other file there would be
read by no check, so a name like `manifest.sigstore.json` under a
minisign-only policy could carry an ELF or a 100 MiB blob. Hence every file
present that no later check verifies is checked here for its system's
format within its size limit and for the role of the Statement it belongs
to:

- `NAME.minisig`: minisign's exact encoding (4 KiB at most), whose trusted
  comment is a packseal claim of NAME's role;
- `NAME.sigstore.json`: a JSON object (1 MiB at most) shaped as a Sigstore
  bundle: a known media type, verification material, and a DSSE envelope
  whose payload is an in-toto Statement of NAME's predicate type. Only its
  structure is read, so the minisign path never imports `sigstore`;
- `provenance.json`: a canonical SLSA provenance Statement (`manifest.json`
  is always authenticated and parsed by the signature and statement checks).

None of this says who signed, and a provenance Statement checked only here
may be about anything: a signature the policy can check is verified by the
signature or provenance check, and one it cannot check proves nothing; it
is only kept from being anything but a signature of its role.
"""

import base64
import os
from pathlib import Path
from typing import Any

from attest.canonical import MAX_DOCUMENT_BYTES, parse_json
from attest.statement import statement_predicate_type
from signing.backends.minisign import read_signature
from signing.errors import PacksealError, SignatureError
from signing.files import read_regular_file
from signing.layout import SIGNATURE_DIR_FILES, DirectoryLayout, SignatureDirFile
from signing.roles import Role, RoleClaim

SIGSTORE_BUNDLE_MAX_BYTES = 1024 * 1024
"""Largest Sigstore bundle read, by the Sigstore backend and here alike."""
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
_SIGSTORE_BUNDLE_MEDIA_TYPES = frozenset(
    {
        "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "application/vnd.dev.sigstore.bundle+json;version=0.2",
        "application/vnd.dev.sigstore.bundle+json;version=0.3",
        "application/vnd.dev.sigstore.bundle.v0.3+json",
    }
)
_SIGSTORE_BUNDLE_FIELDS = frozenset({"mediaType", "verificationMaterial", "dsseEnvelope"})


def malformed_entries(layout: DirectoryLayout, *, besides: set[Path]) -> list[str]:
    """Each file present in `.packseal/`, but not in `besides`, that is not well formed for its role.

    `besides` are the files a later check verifies in full. Run once
    `layout.unexpected_entries()` found nothing: every entry is then one of
    `SIGNATURE_DIR_FILES`, as a regular file. One line per problem.
    """
    problems = []
    for name, kind in SIGNATURE_DIR_FILES.items():
        path = layout.signature_dir / name
        if path in besides or not os.path.lexists(path):
            continue
        try:
            check_signature_dir_file(path, kind)
        except PacksealError as err:
            problems.append(str(err))
    return problems


def check_signature_dir_file(path: Path, kind: SignatureDirFile) -> None:
    """Refuse a file of `.packseal/` that is not well formed for its role; see the module docstring.

    Raises `SignatureError` for a signature file, `BundleError` for one that
    cannot be read or is over its limit, and `AttestError` for a malformed
    provenance Statement.
    """
    if kind.system == "minisign":
        _check_minisign_signature(path, kind.role)
    elif kind.system == "sigstore":
        _check_sigstore_bundle(path, kind.role)
    elif kind.role is Role.PROVENANCE:
        from attest.provenance import Provenance  # only when a provenance.json is present: start-up time

        Provenance.from_bytes(read_regular_file(path, MAX_DOCUMENT_BYTES), what=str(path))


def _check_minisign_signature(path: Path, role: Role) -> None:
    RoleClaim.required_in(read_signature(path).trusted_comment, role, where=str(path))


def _check_sigstore_bundle(path: Path, role: Role) -> None:
    document = parse_json(read_regular_file(path, SIGSTORE_BUNDLE_MAX_BYTES), what=str(path))
    if not isinstance(document, dict) or document.get("mediaType") not in _SIGSTORE_BUNDLE_MEDIA_TYPES:
        raise SignatureError(f"{path}: not a Sigstore bundle (no known mediaType)")
    if set(document) != _SIGSTORE_BUNDLE_FIELDS or not isinstance(document["verificationMaterial"], dict):
        raise SignatureError(
            f"{path}: a Sigstore bundle over a Statement holds exactly {', '.join(sorted(_SIGSTORE_BUNDLE_FIELDS))}"
        )
    payload = _dsse_payload(document["dsseEnvelope"], path)
    predicate_type = statement_predicate_type(payload, what=f"{path}: DSSE payload")
    if predicate_type != role.predicate_type:
        raise SignatureError(
            f"{path}: the signed Statement's predicate type is {predicate_type!r}, not a {role.value} "
            f"({role.predicate_type})"
        )


def _dsse_payload(envelope: Any, path: Path) -> bytes:
    """The payload of a DSSE envelope over an in-toto Statement, with at least one signature."""
    if (
        not isinstance(envelope, dict)
        or envelope.get("payloadType") != IN_TOTO_PAYLOAD_TYPE
        or not isinstance(envelope.get("payload"), str)
        or not isinstance(envelope.get("signatures"), list)
        or not envelope["signatures"]
    ):
        raise SignatureError(f"{path}: not a signed DSSE envelope over an in-toto Statement")
    try:
        return base64.b64decode(envelope["payload"], validate=True)
    except ValueError:  # binascii.Error, or a bare ValueError for non-ASCII text
        raise SignatureError(f"{path}: the DSSE payload is not base64") from None
