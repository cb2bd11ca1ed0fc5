"""in-toto Statement v1, stored as canonical JSON and checked against the Statement v1 schema.

Both directions are plain JSON with our own schema checks: writing through
protobuf's `Struct` and reading through `ParseDict` cost a third of a second
on a 20,000-file manifest, and the startup path (`verify-bundle`, the
self-check) must not import protobuf at all. The bytes are those
`in-toto-attestation` writes (a test holds them equal), and the checks are
those its `validate()` and protobuf's parser make, stricter where protobuf
is lax: a field in snake case, a null or a wrong type is refused, never
read as unset.

packseal signs two kinds of Statement (a bundle manifest and SLSA
provenance); both are read back through `Statement.from_bytes`, which refuses
anything that is not exactly one canonical, schema-valid Statement of the
expected predicate type.
"""

import re
from dataclasses import dataclass
from typing import Any

from attest.canonical import CanonicalDocument, canonical_json, parse_canonical_document, parse_json
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

    def to_json(self) -> dict[str, Any]:
        """The resource descriptor; an empty name is left out, as protobuf's JSON form leaves it."""
        descriptor: dict[str, Any] = {"name": self.name} if self.name else {}
        descriptor["digest"] = {"sha256": self.sha256}
        return descriptor


@dataclass(frozen=True)
class Statement:
    """An in-toto Statement v1 whose subjects carry sha256 digests."""

    subjects: tuple[Subject, ...]
    predicate_type: str
    predicate: dict[str, Any]

    def to_bytes(self) -> bytes:
        """The RFC 8785 canonical JSON of this Statement: the bytes that get signed."""
        document = {
            "_type": STATEMENT_TYPE_URI,
            "subject": [subject.to_json() for subject in self.subjects],
            "predicateType": self.predicate_type,
            "predicate": self.predicate,
        }
        problem = _schema_problem(document)
        if problem:
            raise StatementError(f"invalid in-toto Statement: {problem}")
        return canonical_json(document)

    @staticmethod
    def from_bytes(data: bytes, *, what: str, predicate_type: str) -> "Statement":
        """Parse canonical bytes, refusing any other Statement type or predicate type."""
        return statement_from_canonical(
            parse_canonical_document(data, what=what), what=what, predicate_type=predicate_type
        )


def statement_from_canonical(parsed: CanonicalDocument, *, what: str, predicate_type: str) -> Statement:
    """`Statement.from_bytes` of bytes already parsed, for a reader in `attest` that wants more of them.

    A manifest's reader hashes its file list where the parse found it in
    the signed bytes (`CanonicalDocument.member_bytes`). Not exported: the
    parsed document is `attest`'s own plumbing.
    """
    document = _checked_statement(parsed.value, what=what)
    if document["predicateType"] != predicate_type:
        raise StatementError(f"{what}: predicateType is {document['predicateType']!r}, expected {predicate_type!r}")
    return _statement(document, what=what)


def foreign_statement(data: bytes, *, what: str) -> Statement:
    """A schema-valid Statement made by any tool: any JSON layout, any predicate type."""
    return _statement(_checked_statement(parse_json(data, what=what), what=what), what=what)


def _statement(document: dict[str, Any], *, what: str) -> Statement:
    """The Statement of a document `_checked_statement` passed."""
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
    if not isinstance(document, dict) or document.get("_type") != STATEMENT_TYPE_URI:
        raise StatementError(f"{what}: not an in-toto Statement v1 (_type must be {STATEMENT_TYPE_URI})")
    problem = _schema_problem(document)
    if problem:
        raise StatementError(f"{what}: invalid in-toto Statement: {problem}")
    return document


_STATEMENT_FIELDS: dict[str, type] = {"_type": str, "subject": list, "predicateType": str, "predicate": dict}
_DESCRIPTOR_FIELDS: dict[str, type] = {
    "name": str,
    "uri": str,
    "digest": dict,
    "content": str,
    "downloadLocation": str,
    "mediaType": str,
    "annotations": dict,
}
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]*={0,2}")
"""protobuf's JSON form of `bytes`: base64, standard or URL-safe alphabet."""


def _schema_problem(document: dict[str, Any]) -> str | None:
    """What the Statement v1 schema (protobuf's parser, then `in-toto-attestation`'s `validate()`) refuses."""
    problem = _fields_problem(document, _STATEMENT_FIELDS, "Statement")
    if problem:
        return problem
    if set(document) != set(_STATEMENT_FIELDS):
        return f"missing {', '.join(sorted(set(_STATEMENT_FIELDS) - set(document)))}"
    if not document["subject"]:
        return "at least one subject required"
    if not document["predicateType"]:
        return "predicateType required"
    if not document["predicate"]:
        return "predicate object required"
    for index, subject in enumerate(document["subject"]):
        problem = _descriptor_problem(subject, f"subject[{index}]")
        if problem:
            return problem
    return None


def _descriptor_problem(descriptor: Any, where: str) -> str | None:
    if not isinstance(descriptor, dict):
        return f"{where} must be an object"
    problem = _fields_problem(descriptor, _DESCRIPTOR_FIELDS, where)
    if problem:
        return problem
    digest = descriptor.get("digest", {})
    if not digest:
        return f"{where}: at least one digest required"
    if not all(isinstance(value, str) for value in digest.values()):
        return f"{where}: digest values must be strings"
    if not _BASE64.fullmatch(descriptor.get("content", "")):
        return f"{where}: content must be base64"
    return None


def _fields_problem(value: dict[str, Any], fields: dict[str, type], where: str) -> str | None:
    for key, item in value.items():
        expected = fields.get(key)
        if expected is None:
            return f"{where} has no field {key!r}"
        if not isinstance(item, expected):
            return f"{where} field {key!r} must be a {_JSON_TYPE_NAMES[expected]}"
    return None


_JSON_TYPE_NAMES: dict[type, str] = {str: "string", list: "list", dict: "object"}


def _parse_subject(subject: dict[str, Any], *, what: str) -> Subject:
    digest = subject.get("digest", {})
    if set(digest) != {"sha256"}:
        raise StatementError(f"{what}: each subject must carry exactly a sha256 digest")
    try:
        return Subject(name=subject.get("name", ""), sha256=digest["sha256"])
    except StatementError as err:
        raise StatementError(f"{what}: {err}") from None
