"""in-toto Statement v1, built with `in-toto-attestation` and stored as canonical JSON.

protobuf and the in-toto types are imported where a Statement is built or
checked, not with this module: the startup self-check imports it (through
the manifest model) and must not pay for them.

packseal signs two kinds of Statement (a bundle manifest and SLSA
provenance); both are read back through `Statement.from_bytes`, which refuses
anything that is not exactly one canonical, schema-valid Statement of the
expected predicate type.
"""

import re
from dataclasses import dataclass
from typing import Any

from attest.canonical import canonical_json, parse_canonical_json, parse_json
from attest.errors import StatementError

STATEMENT_TYPE_URI = "https://in-toto.io/Statement/v1"
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
"""A sha256 digest as written everywhere in packseal: 64 lowercase hex digits."""


@dataclass(frozen=True)
class Subject:
    """What a Statement is about: a name and the sha256 of its content."""

    name: str
    sha256: str

    def __post_init__(self) -> None:
        if not SHA256_HEX.fullmatch(self.sha256):
            raise StatementError(f"subject {self.name!r}: sha256 must be 64 lowercase hex digits")


@dataclass(frozen=True)
class Statement:
    """An in-toto Statement v1 whose subjects carry sha256 digests."""

    subjects: tuple[Subject, ...]
    predicate_type: str
    predicate: dict[str, Any]

    def to_bytes(self) -> bytes:
        """The RFC 8785 canonical JSON of this Statement: the bytes that get signed."""
        from google.protobuf import json_format
        from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
        from in_toto_attestation.v1.statement import Statement as _InTotoStatement

        proto = _InTotoStatement(
            subjects=[ResourceDescriptor(name=s.name, digest={"sha256": s.sha256}).pb for s in self.subjects],
            predicate_type=self.predicate_type,
            predicate=self.predicate,
        )
        try:
            proto.validate()
        except ValueError as err:
            raise StatementError(f"invalid in-toto Statement: {err}") from err
        return canonical_json(json_format.MessageToDict(proto.pb))

    @classmethod
    def from_bytes(cls, data: bytes, *, what: str, predicate_type: str) -> "Statement":
        """Parse canonical bytes, refusing any other Statement type or predicate type."""
        document = _checked_statement(parse_canonical_json(data, what=what), what=what)
        if document["predicateType"] != predicate_type:
            raise StatementError(f"{what}: predicateType is {document['predicateType']!r}, expected {predicate_type!r}")
        return cls(
            subjects=tuple(_parse_subject(s, what=what) for s in document["subject"]),
            predicate_type=predicate_type,
            predicate=document["predicate"],
        )


def foreign_statement(data: bytes, *, what: str) -> Statement:
    """A schema-valid Statement made by any tool: any JSON layout, any predicate type."""
    document = _checked_statement(parse_json(data, what=what), what=what)
    return Statement(
        subjects=tuple(_parse_subject(s, what=what) for s in document["subject"]),
        predicate_type=document["predicateType"],
        predicate=document["predicate"],
    )


def statement_predicate_type(data: bytes, *, what: str) -> str:
    """The predicate type a Statement declares, read without checking the rest of it.

    For telling which role signed bytes are in, cheaply: whoever uses the
    Statement parses it in full (`Statement.from_bytes`), and a schema check
    of a large manifest here would only repeat that work.
    """
    document = parse_json(data, what=what)
    if not isinstance(document, dict) or document.get("_type") != STATEMENT_TYPE_URI:
        raise StatementError(f"{what}: not an in-toto Statement v1 (_type must be {STATEMENT_TYPE_URI})")
    predicate_type = document.get("predicateType")
    if not isinstance(predicate_type, str):
        raise StatementError(f"{what}: the Statement names no predicateType")
    return predicate_type


def _checked_statement(document: Any, *, what: str) -> dict[str, Any]:
    """Refuse a document that the in-toto Statement v1 schema does not accept."""
    from google.protobuf import json_format
    from in_toto_attestation.v1 import statement_pb2
    from in_toto_attestation.v1.statement import Statement as _InTotoStatement

    if not isinstance(document, dict) or document.get("_type") != STATEMENT_TYPE_URI:
        raise StatementError(f"{what}: not an in-toto Statement v1 (_type must be {STATEMENT_TYPE_URI})")
    try:
        proto = json_format.ParseDict(document, statement_pb2.Statement())
        _InTotoStatement.copy_from_pb(proto).validate()
    except (json_format.ParseError, ValueError) as err:
        raise StatementError(f"{what}: invalid in-toto Statement: {' '.join(str(err).split())}") from None
    return document


def _parse_subject(subject: dict[str, Any], *, what: str) -> Subject:
    digest = subject.get("digest", {})
    if set(digest) != {"sha256"}:
        raise StatementError(f"{what}: each subject must carry exactly a sha256 digest")
    try:
        return Subject(name=subject.get("name", ""), sha256=digest["sha256"])
    except StatementError as err:
        raise StatementError(f"{what}: {err}") from None
