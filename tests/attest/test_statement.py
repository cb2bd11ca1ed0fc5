"""in-toto Statement v1: canonical bytes out, and only a strict Statement back in."""

import json
import subprocess
import sys

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
    # protobuf's parser read these as unset or under another name; the JSON schema check refuses them
    "predicateType in snake case": lambda d: d.update(predicate_type=d.pop("predicateType")),
    "subject field in snake case": _set_subject(media_type="text/plain"),
    "null subject name": _set_subject(name=None),
    "null predicate": lambda d: d.update(predicate=None),
    "empty predicate": lambda d: d.update(predicate={}),
    "empty predicateType": lambda d: d.update(predicateType=""),
    "digest value not a string": _set_subject(digest={"sha256": 1}),
    "subject name not a string": _set_subject(name=["first"]),
    "content not base64": _set_subject(content="not base64!"),
    "annotations not an object": _set_subject(annotations=[]),
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


def _written_by_in_toto_attestation(statement: Statement) -> bytes:
    """What packseal wrote before issue 13: the Statement built and serialised through protobuf."""
    from google.protobuf import json_format
    from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
    from in_toto_attestation.v1.statement import Statement as InTotoStatement

    proto = InTotoStatement(
        subjects=[ResourceDescriptor(name=s.name, digest={"sha256": s.sha256}).pb for s in statement.subjects],
        predicate_type=statement.predicate_type,
        predicate=statement.predicate,
    )
    proto.validate()
    return canonical_json(json_format.MessageToDict(proto.pb))


WRITTEN = {
    "fixture": None,
    "unnamed subject": Statement((Subject("", SHA_A),), PREDICATE_TYPE, {"k": "v"}),
    "many subjects, deep predicate": Statement(
        tuple(Subject(f"s{index}", SHA_B) for index in range(5)),
        PREDICATE_TYPE,
        {"list": [{"a": [1, 2, {"b": None}]}, "\u00e9\U0001f600", -7, 1.5], "\ue000": True, "\U0001f600": False},
    ),
}


@pytest.mark.parametrize("name", WRITTEN.keys())
def test_to_bytes_is_what_in_toto_attestation_writes(statement, name):
    """Issue 13 dropped protobuf from writing and reading Statements; the signed bytes did not change."""
    written = WRITTEN[name] or statement
    assert written.to_bytes() == _written_by_in_toto_attestation(written)
    assert Statement.from_bytes(written.to_bytes(), what="s.json", predicate_type=PREDICATE_TYPE) == written


def test_reading_a_statement_imports_no_protobuf(statement):
    """Issue 13: protobuf cost 15 ms of start-up and 198 ms on a 20,000-file manifest, for checks JSON can make."""
    code = (
        "import sys; from attest.statement import Statement; "
        f"Statement.from_bytes(sys.stdin.buffer.read(), what='s', predicate_type={PREDICATE_TYPE!r}); "
        "print(sorted(name for name in sys.modules if name.startswith(('google', 'in_toto'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], input=statement.to_bytes(), capture_output=True, check=True)
    assert result.stdout == b"[]\n"
