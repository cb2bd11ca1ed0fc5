"""in-toto Statement v1: canonical bytes out, and only a strict Statement back in."""

import json

import pytest

from attest.canonical import canonical_json, parse_canonical_json
from attest.errors import StatementError
from attest.statement import Statement, Subject

PREDICATE_TYPE = "https://example.test/predicate/v1"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
SHA_A = "a" * 64
SHA_B = "0123456789abcdef" * 4


@pytest.fixture
def statement() -> Statement:
    return Statement(
        subjects=(Subject("first", SHA_A), Subject("second", SHA_B)),
        predicate_type=PREDICATE_TYPE,
        predicate={"text": "caf\u00e9", "numbers": [0, 1, 2**53 - 1], "nested": {"flag": True, "none": None}},
    )


@pytest.fixture
def document(statement) -> dict:
    return json.loads(statement.to_bytes())


def test_round_trip(statement):
    assert Statement.from_bytes(statement.to_bytes(), what="s.json", predicate_type=PREDICATE_TYPE) == statement


def test_to_bytes_is_a_canonical_in_toto_statement_v1(statement):
    document = parse_canonical_json(statement.to_bytes(), what="s.json")
    assert document == {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": "first", "digest": {"sha256": SHA_A}},
            {"name": "second", "digest": {"sha256": SHA_B}},
        ],
        "predicateType": PREDICATE_TYPE,
        "predicate": statement.predicate,
    }


def test_to_bytes_refuses_a_statement_without_subjects():
    with pytest.raises(StatementError):
        Statement(subjects=(), predicate_type=PREDICATE_TYPE, predicate={}).to_bytes()


@pytest.mark.parametrize("sha256", [SHA_A.upper(), "a" * 63, "a" * 65, "g" * 64, ""])
def test_subject_refuses_anything_but_64_lowercase_hex_digits(sha256):
    with pytest.raises(StatementError, match="64 lowercase hex digits"):
        Subject("x", sha256)


def _drop(key):
    return lambda d: d.pop(key)


def _set_subject(**changes):
    return lambda d: d["subject"][0].update(changes)


REFUSALS = {
    "unknown top-level field": lambda d: d.update(extra=1),
    "missing subject": _drop("subject"),
    "empty subject list": lambda d: d.update(subject=[]),
    "subject not a list": lambda d: d.update(subject=d["subject"][0]),
    "subject without digest": lambda d: d["subject"][0].pop("digest"),
    "subject without sha256": _set_subject(digest={"sha512": "ab" * 64}),
    "extra digest algorithm": lambda d: d["subject"][0]["digest"].update(sha512="ab" * 64),
    "bad hex": _set_subject(digest={"sha256": "zz" * 32}),
    "upper-case hex": _set_subject(digest={"sha256": SHA_A.upper()}),
    "short hex": _set_subject(digest={"sha256": "ab"}),
    "unknown subject field": _set_subject(extra=1),
    "missing predicate": _drop("predicate"),
    "predicate not an object": lambda d: d.update(predicate=[1]),
    "missing _type": _drop("_type"),
    "old _type": lambda d: d.update(_type="https://in-toto.io/Statement/v0.1"),
    "missing predicateType": _drop("predicateType"),
    "other predicateType": lambda d: d.update(predicateType="https://slsa.dev/provenance/v1"),
}


@pytest.mark.parametrize("change", REFUSALS.values(), ids=REFUSALS.keys())
def test_from_bytes_refuses(document, change):
    change(document)
    with pytest.raises(StatementError, match=r"^s\.json: "):
        Statement.from_bytes(canonical_json(document), what="s.json", predicate_type=PREDICATE_TYPE)


@pytest.mark.parametrize("change", REFUSALS.values(), ids=REFUSALS.keys())
def test_from_bytes_refusal_is_one_line(document, change):
    """attest.errors: "The message is one line meant for a human"."""
    change(document)
    with pytest.raises(StatementError) as refused:
        Statement.from_bytes(canonical_json(document), what="s.json", predicate_type=PREDICATE_TYPE)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("data", [b"[]", b'"x"', b"null", b"{}"])
def test_from_bytes_refuses_a_document_that_is_not_an_object_statement(data):
    with pytest.raises(StatementError, match="not an in-toto Statement v1"):
        Statement.from_bytes(data, what="s.json", predicate_type=PREDICATE_TYPE)


def test_from_bytes_refuses_non_canonical_bytes(statement):
    pretty = json.dumps(json.loads(statement.to_bytes()), indent=2).encode()
    with pytest.raises(ValueError, match="canonical form"):
        Statement.from_bytes(pretty, what="s.json", predicate_type=PREDICATE_TYPE)
