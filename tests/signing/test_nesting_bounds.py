"""Every parser packseal runs on bundle or installer input is bounded: deep nesting is one clear error.

Issue 9, section 5: a deeply nested `--lock` file crashed with RecursionError
(tomllib recurses per array or inline table). The same held for an
identity regexp with 500 nested groups (`re` recurses per group), and for a
JSON document nested just less deeply than `json` itself gives up at: it
parsed, and the next step (protobuf's error message, RFC 8785) recursed.
"""

import sys

import pytest

from attest.canonical import parse_canonical_json, parse_json
from attest.errors import AttestError, CanonicalJSONError
from attest.statement import Statement, foreign_statement
from signing.backends.sigstore import SigstoreIdentityPolicy
from signing.errors import TrustPolicyError
from signing.pins import LockFile

_DEEP = 2000
MAX_NESTING = 100


@pytest.mark.parametrize(
    "document",
    [
        "x = " + "[" * _DEEP + "]" * _DEEP + "\n",
        "x = " + "{ y = " * _DEEP + "1" + " }" * _DEEP + "\n",
        "[bundle.pack]\nsource_repo = " + "[" * _DEEP + "]" * _DEEP + "\n",
    ],
    ids=["arrays", "inline tables", "inside a bundle table"],
)
def test_a_deeply_nested_lock_file_is_one_trust_policy_error(tmp_path, document):
    lock = tmp_path / "deep.lock"
    lock.write_text(document)
    with pytest.raises(TrustPolicyError, match="nested too deeply") as refusal:
        LockFile.read(lock)
    assert str(lock) in str(refusal.value) and "\n" not in str(refusal.value)


def _statement(predicate: bytes) -> bytes:
    return (
        b'{"_type":"https://in-toto.io/Statement/v1","predicate":' + predicate + b',"predicateType":"x","subject":[]}'
    )


@pytest.mark.parametrize("container", ["list", "object"])
def test_json_at_every_depth_up_to_the_recursion_limit_is_a_verdict_not_a_crash(container):
    """Near the interpreter's limit, `json` still parses and a later recursive step used to crash."""
    limit = sys.getrecursionlimit()
    for depth in range(limit - 150, limit + 20):
        predicate = b"[" * depth + b"]" * depth if container == "list" else b'{"a":' * depth + b"1" + b"}" * depth
        for parse in (
            lambda data: Statement.from_bytes(data, what="m", predicate_type="x"),
            lambda data: foreign_statement(data, what="m"),
        ):
            with pytest.raises(AttestError):
                parse(_statement(predicate))


@pytest.mark.parametrize("parse", [parse_json, parse_canonical_json], ids=["any layout", "canonical"])
def test_json_nesting_is_bounded_at_max_nesting(parse):
    at_limit = b"[" * MAX_NESTING + b"]" * MAX_NESTING
    assert parse(at_limit, what="doc") is not None
    with pytest.raises(CanonicalJSONError, match="doc: JSON nested too deeply \\(over 100 levels\\)"):
        parse(b"[" + at_limit + b"]", what="doc")


@pytest.mark.parametrize("field", ["identity_regexp", "issuer_regexp"])
def test_a_regexp_nested_too_deeply_is_one_trust_policy_error(field):
    nested = "(" * 1000 + "x" + ")" * 1000
    fields = {"identity": "someone", "issuer": "https://issuer"}
    fields[field] = nested
    fields.pop(field.removesuffix("_regexp"))
    with pytest.raises(TrustPolicyError, match="nested too deeply"):
        SigstoreIdentityPolicy(**fields)
