"""RFC 8785 canonical JSON: the one byte form packseal signs and accepts.

Signatures cover bytes, not objects. Accepting only the canonical form means
there is exactly one byte string per document, so what was signed, what is
stored and what is parsed cannot drift apart (no duplicate keys read two
ways, no whitespace or escapes to smuggle differences through).
"""

import json
from typing import Any

import rfc8785

from attest.errors import CanonicalJSONError

MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
"""Largest document parsed. A manifest of 100 000 files is about 15 MB."""

MAX_NESTING = 100
"""Deepest nesting of arrays and objects parsed: far beyond any packseal document, and protobuf's own limit.

`json` gives up only near the interpreter's recursion limit; a document just
shallower than that parses, and the next recursive step (RFC 8785, protobuf,
`repr` in an error message) would crash on it instead.
"""


def canonical_json(value: Any) -> bytes:
    """Serialise `value` as RFC 8785 canonical JSON."""
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as err:
        raise CanonicalJSONError(f"cannot serialise as canonical JSON: {err}") from err


def parse_canonical_json(data: bytes, *, what: str) -> Any:
    """Parse `data`, refusing anything but one canonical JSON document.

    `what` names the document in error messages (for example a file path).
    """
    value = parse_json(data, what=what)
    try:
        canonical = canonical_json(value)
    except CanonicalJSONError as err:
        raise CanonicalJSONError(f"{what}: {err}") from None
    if canonical != data:
        raise CanonicalJSONError(f"{what}: JSON is not in RFC 8785 canonical form")
    return value


def parse_json(data: bytes, *, what: str) -> Any:
    """Parse JSON made by other tools: any layout, but no duplicate keys and within limits."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise CanonicalJSONError(f"{what}: {len(data)} bytes is over the {MAX_DOCUMENT_BYTES} byte limit")
    try:
        value = json.loads(data, object_pairs_hook=_refuse_duplicate_keys, parse_constant=_refuse_constant)
    except _NotJSON as err:
        raise CanonicalJSONError(f"{what}: {err} is not JSON") from None
    except _DuplicateKey as err:
        raise CanonicalJSONError(f"{what}: duplicate key {err.key!r}") from None
    except RecursionError:
        raise CanonicalJSONError(f"{what}: JSON nested too deeply (over {MAX_NESTING} levels)") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CanonicalJSONError(f"{what}: not valid JSON ({err})") from None
    if not _nested_within(value, MAX_NESTING):
        raise CanonicalJSONError(f"{what}: JSON nested too deeply (over {MAX_NESTING} levels)")
    return value


def _nested_within(value: Any, limit: int) -> bool:
    """Whether no array or object lies more than `limit` levels deep; without recursion, as the point is depth."""
    pending = [(value, 1)] if isinstance(value, (dict, list)) else []
    while pending:
        node, depth = pending.pop()
        if depth > limit:
            return False
        children = node.values() if isinstance(node, dict) else node
        pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return True


class _NotJSON(Exception):
    """Python's json accepts NaN and Infinity; JSON (RFC 8259) does not."""


def _refuse_constant(name: str) -> None:
    raise _NotJSON(name)


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result
