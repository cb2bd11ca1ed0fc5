"""RFC 8785 canonical JSON: the one byte form packseal signs and accepts.

Signatures cover bytes, not objects. Accepting only the canonical form means
there is exactly one byte string per document, so what was signed, what is
stored and what is parsed cannot drift apart (no duplicate keys read two
ways, no whitespace or escapes to smuggle differences through).

For the documents packseal writes (strings, integers within 2**53, booleans,
null; no floats, no keys outside the Basic Multilingual Plane), RFC 8785's
form is exactly what the C `json` encoder writes with sorted keys, no
spaces and no ASCII escaping: the same string escapes, the same integer
digits, and key order by code point equals key order by UTF-16 unit. Both
directions use it for such values, which is ten times faster than the pure
Python `rfc8785` on a large manifest; anything else goes through `rfc8785`.
"""

import hashlib
import itertools
import json
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from attest.errors import CanonicalJSONError

MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
"""Largest document parsed: a manifest of about 400,000 files (200,000 files make about 28 MB)."""

MAX_NESTING = 100
"""Deepest nesting of arrays and objects parsed: far beyond any packseal document, and protobuf's own limit.

`json` gives up only near the interpreter's recursion limit; a document just
shallower than that parses, and the next recursive step (RFC 8785, protobuf,
`repr` in an error message) would crash on it instead.
"""

_SAFE_INTEGER = 2**53 - 1
_FOUR_BYTE_UTF8 = re.compile(rb"[\xf0-\xf4]")
"""The lead byte of a character beyond U+FFFF, whose place among keys RFC 8785 sets by UTF-16 units."""
_BEYOND_BMP = re.compile("[\U00010000-\U0010ffff]")
_NOT_UTF8 = "cannot serialise as canonical JSON: input contains non-UTF-8 codepoints"
"""rfc8785's refusal of a lone surrogate, which has no UTF-8 form, worded as it words it."""


def canonical_json(value: Any) -> bytes:
    """Serialise `value` as RFC 8785 canonical JSON."""
    if _is_plain(value):
        try:
            return _plain_json(value)
        except UnicodeEncodeError:
            pass  # a lone surrogate: rfc8785 refuses it, by name
    import rfc8785  # only for values the C encoder cannot write in RFC 8785's form: off the verify path

    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as err:
        raise CanonicalJSONError(f"cannot serialise as canonical JSON: {err}") from err
    except UnicodeEncodeError:  # a lone surrogate in a key: rfc8785 sorts keys by their UTF-16 form before checking
        raise CanonicalJSONError(_NOT_UTF8) from None


def plain_canonical_json(value: Any) -> bytes:
    """`canonical_json` of a value its maker guarantees plain, without walking it to check.

    For a value whose every type was checked where it was built (the
    manifest's entries: strings, integers within 2**53, booleans, keys
    spelled in ASCII by the code). A string with a lone surrogate is still
    refused: it has no UTF-8 form.
    """
    try:
        return _plain_json(value)
    except UnicodeEncodeError:
        raise CanonicalJSONError(_NOT_UTF8) from None


def plain_canonical_list_sha256(items: Iterable[Any]) -> str:
    """The sha256 (hex) of `plain_canonical_json(list(items))`, serialised a few thousand items at a time.

    The canonical form of a list is its items' forms between brackets,
    separated by commas, so hashing it in slices gives the same digest
    without holding the whole serialisation (or every item, when `items` is
    a generator): for a large manifest, that copy was the peak of a
    verify's memory.
    """
    hasher = hashlib.sha256()
    try:
        for piece in _list_pieces(items):
            hasher.update(piece)
    except UnicodeEncodeError:
        raise CanonicalJSONError(_NOT_UTF8) from None
    return hasher.hexdigest()


_ITEMS_PER_SLICE = 4096


def parse_canonical_json(data: bytes, *, what: str) -> Any:
    """Parse `data`, refusing anything but one canonical JSON document.

    `what` names the document in error messages (for example a file path).
    The fast path accepts `data` only if the plain value it parses to
    serialises back to exactly `data`: then no key was duplicated, nothing
    was escaped or spaced differently, and no number was written two ways.
    Anything else is parsed again strictly, for the exact reason.
    """
    return parse_canonical_document(data, what=what).value


@dataclass(frozen=True)
class CanonicalDocument:
    """A document `parse_canonical_document` accepted: its value, and its bytes, which are that value's canonical form.

    A member's canonical form is then a slice of those bytes: reading it
    there (a manifest's file list, for its tree digest) spares serialising
    it a second time, 25 ms for 20,000 files.
    """

    value: Any
    data: bytes
    member_spans: Mapping[tuple[str, ...], tuple[int, int]]
    """(start, end) in `data` of each member asked for, by the keys that lead to it, as the fast path found them."""

    def member_bytes(self, *keys: str) -> bytes | memoryview:
        """The canonical form of the member that `keys` lead to, object by object from the top.

        Sliced from `data` where the fast path found the member, else
        serialised again: the same bytes, since `data` is canonical.
        """
        span = self.member_spans.get(keys)
        if span is not None:
            return memoryview(self.data)[span[0] : span[1]]
        member = self.value
        for key in keys:
            member = member[key]
        return canonical_json(member)


def parse_canonical_document(data: bytes, *, what: str, members: Iterable[tuple[str, ...]] = ()) -> CanonicalDocument:
    """`parse_canonical_json`, keeping the bytes parsed and where the `members` (each by its keys) lie in them.

    Only the members asked for: keeping every member's keys and place would
    cost memory in proportion to the members times their depth, 1.4 GB
    for a 17 MB document of objects nested 98 deep.
    """
    _check_size(data, what)
    document = _parse_plain(data, frozenset(members))
    if document is not None:
        return document
    value = parse_json(data, what=what)
    try:
        canonical = canonical_json(value)
    except CanonicalJSONError as err:
        raise CanonicalJSONError(f"{what}: {err}") from None
    if canonical != data:
        raise CanonicalJSONError(f"{what}: JSON is not in RFC 8785 canonical form")
    return CanonicalDocument(value, data, {})


def parse_json(data: bytes, *, what: str) -> Any:
    """Parse JSON made by other tools: any layout, but no duplicate keys and within limits."""
    _check_size(data, what)
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
    except ValueError:  # what is left: int() refuses a number of more digits than this limit, with a bare ValueError
        limit = sys.get_int_max_str_digits()
        raise CanonicalJSONError(f"{what}: not valid JSON (a number of over {limit} digits)") from None
    if not _nested_within(value, MAX_NESTING):
        raise CanonicalJSONError(f"{what}: JSON nested too deeply (over {MAX_NESTING} levels)")
    return value


def _check_size(data: bytes, what: str) -> None:
    if len(data) > MAX_DOCUMENT_BYTES:
        raise CanonicalJSONError(f"{what}: {len(data)} bytes is over the {MAX_DOCUMENT_BYTES} byte limit")


class _NotPlain(Exception):
    """A float, NaN or an integer beyond 2**53 in the document: the strict path decides."""


def _plain_integer(digits: str) -> int:
    number = int(digits)
    if abs(number) > _SAFE_INTEGER:
        raise _NotPlain
    return number


def _not_plain(_: str) -> None:
    raise _NotPlain


def _parse_plain(data: bytes, members: frozenset[tuple[str, ...]]) -> CanonicalDocument | None:
    """`data` parsed if it is the plain canonical form of a plain value, else None.

    `isascii` first: it proves the absence of 4-byte UTF-8 at C speed, where
    the search walks 3 MB (a 20,000-file manifest) in 17 ms.
    """
    if not data.isascii() and _FOUR_BYTE_UTF8.search(data):
        return None
    try:
        value = json.loads(data, parse_int=_plain_integer, parse_float=_not_plain, parse_constant=_not_plain)
    except (_NotPlain, ValueError, RecursionError):  # ValueError: JSONDecodeError, UnicodeDecodeError
        return None
    if not _nested_within(value, MAX_NESTING):
        return None
    comparison = _Comparison(data, members)
    try:
        if comparison.holds(value, () if members else None) and comparison.position == len(data):
            return CanonicalDocument(value, data, comparison.member_spans)
    except UnicodeEncodeError:
        pass
    return None


class _Comparison:
    """`data` compared with a value's `_plain_json` piece by piece, noting where the members asked for lie.

    Piece by piece (objects key by key, a long list a slice at a time) keeps
    the serialisation of a large manifest (as large again as the document,
    twice: as text and as bytes) out of memory. `startswith` at an offset
    compares with `memcmp`, without a copy; comparing a memoryview slice
    compares byte by byte (3 MB: 6 ms against under 1).
    """

    def __init__(self, data: bytes, members: frozenset[tuple[str, ...]]) -> None:
        self.data = data
        self.position = 0
        self.members = members
        self.leading = frozenset(keys[:depth] for keys in members for depth in range(1, len(keys) + 1))
        """The keys that lead to a member asked for, or into one."""
        self.member_spans: dict[tuple[str, ...], tuple[int, int]] = {}

    def holds(self, value: Any, keys: tuple[str, ...] | None) -> bool:
        """Whether `data` holds `_plain_json(value)` at the position reached, which then moves past it.

        `keys` lead to `value` if a member asked for may lie in it, else are
        None. Recursion is bounded: a value reaches here only once it nests
        within MAX_NESTING.
        """
        if type(value) is not dict:
            long_list = type(value) is list and len(value) > _ITEMS_PER_SLICE
            return all(map(self._takes, _list_pieces(value) if long_list else [_plain_json(value)]))
        if not self._takes(b"{"):
            return False
        for index, key in enumerate(sorted(value)):
            if not self._takes((b"," if index else b"") + _plain_json(key) + b":"):
                return False
            start, member_keys = self.position, None if keys is None else (*keys, key)
            if not self.holds(value[key], member_keys if member_keys in self.leading else None):
                return False
            if member_keys in self.members:
                self.member_spans[member_keys] = (start, self.position)
        return self._takes(b"}")

    def _takes(self, piece: bytes) -> bool:
        if not self.data.startswith(piece, self.position):
            return False
        self.position += len(piece)
        return True


def _list_pieces(items: Iterable[Any]) -> Iterator[bytes]:
    """The canonical form of a list of plain items, a slice of items at a time: their forms between brackets."""
    iterator = iter(items)
    separator = b"["
    while chunk := list(itertools.islice(iterator, _ITEMS_PER_SLICE)):
        yield separator + _plain_json(chunk)[1:-1]
        separator = b","
    yield b"]" if separator == b"," else b"[]"


def _plain_json(value: Any) -> bytes:
    """`value` in the form RFC 8785 gives it, for a value `_is_plain` accepts."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")).encode()


def _is_plain(value: Any) -> bool:
    """Whether `value` holds only what `_plain_json` writes in RFC 8785's form, and nests within the limit."""
    level = [value]
    for depth in range(1, MAX_NESTING + 2):
        if depth > MAX_NESTING and any(type(node) in (dict, list) for node in level):
            return False
        children: list[Any] = []
        for node in level:
            kind = type(node)
            if kind is dict:
                if not all(type(key) is str and (key.isascii() or not _BEYOND_BMP.search(key)) for key in node):
                    return False
                children.extend(node.values())
            elif kind is list:
                children.extend(node)
            elif kind is int:
                if not -_SAFE_INTEGER <= node <= _SAFE_INTEGER:
                    return False
            elif kind is not str and kind is not bool and node is not None:
                return False
        if not children:
            return True
        level = children
    return False


def _nested_within(value: Any, limit: int) -> bool:
    """Whether no array or object lies more than `limit` levels deep; without recursion, as the point is depth.

    For a value `json` parsed, whose arrays and objects are exactly `list`
    and `dict`. Level by level, so that a wide document costs one pass over
    its containers; a level's types are gathered at C speed, so a level of
    strings and numbers only (the 100,000 fields of a 20,000-file manifest)
    is not tested value by value in Python: 10 ms down to 7.
    """
    level = [value] if type(value) in _CONTAINERS else []
    for _ in range(limit):
        children = list(itertools.chain.from_iterable(node.values() if type(node) is dict else node for node in level))
        if _CONTAINERS.isdisjoint(map(type, children)):
            return True
        level = [child for child in children if type(child) in _CONTAINERS]
    return False


_CONTAINERS = frozenset({dict, list})


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
