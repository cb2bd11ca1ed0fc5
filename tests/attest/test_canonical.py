"""RFC 8785 canonical JSON: the one byte form written, and the only one accepted."""

import hashlib
import json

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from attest.canonical import (
    MAX_DOCUMENT_BYTES,
    MAX_NESTING,
    canonical_json,
    parse_canonical_document,
    parse_canonical_json,
    parse_json,
    plain_canonical_list_sha256,
)
from attest.errors import CanonicalJSONError

WHAT = "doc.json"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"b": 1, "a": 2}, b'{"a":2,"b":1}'),
        ({"a": {"d": None, "c": [True, False]}}, b'{"a":{"c":[true,false],"d":null}}'),
        ("caf\u00e9", b'"caf\xc3\xa9"'),
        ('tab\tquote"', b'"tab\\tquote\\""'),
        ({"\u00e9": 1, "z": 2, "Z": 3}, b'{"Z":3,"z":2,"\xc3\xa9":1}'),
        (1.0, b"1"),
        (2**53 - 1, b"9007199254740991"),
        ([], b"[]"),
    ],
)
def test_canonical_json_writes_rfc8785_bytes(value, expected):
    assert canonical_json(value) == expected


@pytest.mark.parametrize(
    "value",
    [{"files": [{"path": "a", "size": 3}]}, [1, "x", None, True], "\u00e9\U0001f600", -(2**53) + 1, {}],
)
def test_parse_reads_back_what_canonical_json_wrote(value):
    assert parse_canonical_json(canonical_json(value), what=WHAT) == value


@pytest.mark.parametrize(
    "value", [2**53, -(2**53), float("nan"), float("inf"), {1: "non-string key"}, "\ud800", {"\ud800": 1}]
)
def test_canonical_json_refuses_values_without_a_canonical_form(value):
    with pytest.raises(CanonicalJSONError):
        canonical_json(value)


REFUSALS = {
    "duplicate key": (b'{"a":1,"a":1}', "duplicate key 'a'"),
    "nested duplicate key": (b'{"a":{"b":1,"b":2}}', "duplicate key 'b'"),
    "duplicate key in a list": (b'[{"x":1,"x":1}]', "duplicate key 'x'"),
    "space after colon": (b'{"a": 1}', "canonical form"),
    "leading space": (b" {}", "canonical form"),
    "trailing newline": (b"{}\n", "canonical form"),
    "keys out of order": (b'{"b":1,"a":2}', "canonical form"),
    "escaped unicode": (b'"\\u00e9"', "canonical form"),
    "escaped slash": (b'"\\/"', "canonical form"),
    "float form of an integer": (b"1.0", "canonical form"),
    "exponent": (b"1e2", "canonical form"),
    "negative zero": (b"-0", "canonical form"),
    "an integer longer than Python converts": (b'{"a":' + b"1" * 5000 + b"}", "a number of over 4300 digits"),
    "byte order mark": (b"\xef\xbb\xbf{}", None),
    "UTF-16": ('{"a":1}'.encode("utf-16-le"), None),
    "invalid UTF-8": (b'"\xff"', "not valid JSON"),
    "overlong UTF-8": (b'"\xc0\xaf"', "not valid JSON"),
    "two documents": (b"{}{}", "not valid JSON"),
    "empty": (b"", "not valid JSON"),
    "NaN": (b"NaN", None),
    "integer 2**53": (b"9007199254740992", "9007199254740992"),
    "integer beyond 2**53": (b"[9007199254740993]", "9007199254740993"),
    "integer below -2**53": (b"-9007199254740993", "9007199254740993"),
    "lone surrogate": (b'"\\ud800"', None),
    # rfc8785 sorts keys by their UTF-16 form before it checks them: a lone surrogate there was a UnicodeEncodeError.
    "lone surrogate in a key": (b'{"\\udc00":1}', "non-UTF-8"),
    "lone surrogate in a key beside a float": (b'[{"a\\ud800":null},1.5]', "non-UTF-8"),
}


@pytest.mark.parametrize(("data", "message"), REFUSALS.values(), ids=REFUSALS.keys())
def test_parse_refuses_anything_but_one_canonical_document(data, message):
    with pytest.raises(CanonicalJSONError, match=message):
        parse_canonical_json(data, what=WHAT)


@pytest.mark.parametrize("data", [data for data, _ in REFUSALS.values()], ids=REFUSALS.keys())
def test_every_refusal_names_the_document_in_one_line(data):
    """attest.errors: the message "names the document and the field at fault", on one line."""
    with pytest.raises(CanonicalJSONError) as refused:
        parse_canonical_json(data, what=WHAT)
    assert str(refused.value).startswith(f"{WHAT}: ")
    assert "\n" not in str(refused.value)


def test_a_number_too_long_for_python_is_a_refusal_of_any_json_not_a_traceback():
    """`int()` refuses over 4300 digits with a bare ValueError; JSON of other tools (a Sigstore bundle) reaches it."""
    with pytest.raises(CanonicalJSONError, match=f"^{WHAT}: not valid JSON \\(a number of over 4300 digits\\)$"):
        parse_json(b"[" + b"9" * 4301 + b"]", what=WHAT)


@pytest.mark.parametrize("data", [b"9007199254740991", b"-9007199254740991"])
def test_integers_within_2_53_are_accepted(data):
    assert parse_canonical_json(data, what=WHAT) == int(data)


def test_document_of_exactly_the_limit_is_accepted():
    data = b'"' + b"a" * (MAX_DOCUMENT_BYTES - 2) + b'"'
    assert len(parse_canonical_json(data, what=WHAT)) == MAX_DOCUMENT_BYTES - 2


def test_document_over_the_limit_is_refused_before_parsing():
    # Deeply nested too: the size refusal must come first, without parsing.
    with pytest.raises(CanonicalJSONError, match=f"over the {MAX_DOCUMENT_BYTES} byte limit"):
        parse_canonical_json(b"[" * (MAX_DOCUMENT_BYTES + 1), what=WHAT)


@pytest.mark.parametrize("depth", [10_000, 100_000])
@pytest.mark.parametrize(("opening", "closing"), [("[", "]"), ('{"a":', "}")], ids=["arrays", "objects"])
def test_deep_nesting_is_a_clear_refusal_not_a_recursion_error(depth, opening, closing):
    data = (opening * depth + "1" + closing * depth).encode()
    with pytest.raises(CanonicalJSONError, match="nested too deeply"):
        parse_canonical_json(data, what=WHAT)


def _rfc8785_or_error(value: object) -> bytes | type:
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as err:
        return type(err)


def _accepted_before_issue_13(data: bytes) -> object:
    """The reference: parse strictly, then require the bytes RFC 8785 writes for what was parsed."""
    try:
        value = parse_json(data, what=WHAT)
        return value if rfc8785.dumps(value) == data else "refused"
    except (CanonicalJSONError, rfc8785.CanonicalizationError):
        return "refused"


def _accepted_now(data: bytes) -> object:
    try:
        return parse_canonical_json(data, what=WHAT)
    except CanonicalJSONError:
        return "refused"


_TEXT = st.text(st.characters(codec="utf-8") | st.sampled_from('\x00\x1f\x7f"\\\u2028\ue000\U0001f600\ud800'))
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**54), 2**54)
    | st.sampled_from([2**53 - 1, -(2**53) + 1, 2**53])
    | st.floats()
    | _TEXT
)
_VALUES = st.recursive(
    _SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4), max_leaves=20
)


@settings(max_examples=400, deadline=None)
@given(_VALUES)
def test_canonical_json_writes_what_rfc8785_writes(value):
    """Issue 13: plain values skip the pure Python rfc8785, with identical bytes; the rest still goes through it."""
    expected = _rfc8785_or_error(value)
    if isinstance(expected, bytes):
        assert canonical_json(value) == expected
    else:
        with pytest.raises(CanonicalJSONError):
            canonical_json(value)


def _respellings(value: object) -> list[bytes]:
    """`value` written canonically, and in the ways a forger might write it instead."""
    sorted_compact = {"sort_keys": True, "separators": (",", ":")}
    spellings = [json.dumps(value, ensure_ascii=ascii, **sorted_compact) for ascii in (True, False)]
    spellings.append(json.dumps(value, ensure_ascii=False, separators=(",", ":")))  # keys as given
    spellings.append(json.dumps(value, ensure_ascii=False, sort_keys=True))  # spaces
    encoded = [spelling.encode("utf-8", "surrogatepass") for spelling in spellings]
    return [*encoded, rfc8785.dumps(value)] if isinstance(_rfc8785_or_error(value), bytes) else encoded


@settings(max_examples=400, deadline=None)
@given(_VALUES)
def test_parse_accepts_exactly_what_it_accepted_before(value):
    """The fast path accepts a document only where the strict parse and RFC 8785 comparison did."""
    for data in _respellings(value):
        assert _accepted_now(data) == _accepted_before_issue_13(data)


@pytest.mark.parametrize(
    "data",
    [
        '{"\ue000":2,"\U0001f600":1}'.encode(),  # Python's order (code points), not RFC 8785's (UTF-16 units)
        b'{"a":1,"a":1}',
        b"[1.0]",
        b"[9007199254740993]",
        b'["\\ud800"]',
    ],
)
def test_parse_refuses_what_the_fast_path_must_not_accept(data):
    with pytest.raises(CanonicalJSONError):
        parse_canonical_json(data, what=WHAT)


def test_canonical_keys_beyond_the_basic_plane_are_in_utf16_order():
    data = '{"\U0001f600":1,"\ue000":2}'.encode()
    assert parse_canonical_json(data, what=WHAT) == {"\ue000": 2, "\U0001f600": 1}
    assert canonical_json({"\ue000": 2, "\U0001f600": 1}) == data


@pytest.mark.parametrize("length", [0, 1, 4095, 4096, 4097, 10_000])
def test_a_list_hashed_in_slices_has_the_digest_of_its_whole_canonical_form(length):
    """Issue 13: the tree digest is hashed a slice at a time, to keep the serialisation out of memory."""
    items = [{"path": f"f{index}", "size": index, "executable": index % 2 == 0} for index in range(length)]
    expected = hashlib.sha256(canonical_json(items)).hexdigest()
    assert plain_canonical_list_sha256(items) == expected
    assert plain_canonical_list_sha256(iter(items)) == expected


def _long_document(**changes: bytes) -> bytes:
    """A manifest-like document of 10,000 items (three slices), with item `i<n>` written as given."""
    items = [canonical_json({"path": f"f{index:05d}", "size": index}) for index in range(10_000)]
    for name, spelling in changes.items():
        items[int(name[1:])] = spelling
    return b'{"files":[' + b",".join(items) + b'],"kind":"test"}'


@pytest.mark.parametrize(
    "changes",
    [
        {"i9000": b'{"path":"f09000", "size":9000}'},
        {"i4096": b'{"size":4096,"path":"f04096"}'},
        {"i5000": b'{"path":"\\u0066","size":5000}'},
        {"i9999": b'{"path":"f09999","size":9999.0}'},
        {"i7000": b'{"path":"\\ud800","size":7000}'},
        {"i4095": b'{"path":"f04095","path":"f04095","size":4095}'},
    ],
    ids=["space", "key order", "escape", "float", "lone surrogate", "duplicate key"],
)
def test_a_long_document_is_checked_slice_by_slice_to_the_last_byte(changes):
    """Issue 13 compares a long list with its canonical form a slice at a time; every slice counts."""
    assert len(parse_canonical_json(_long_document(), what=WHAT)["files"]) == 10_000
    with pytest.raises(CanonicalJSONError, match=f"^{WHAT}: "):
        parse_canonical_json(_long_document(**changes), what=WHAT)


def _depth(value: object) -> int:
    """How many arrays and objects deep `value` nests, by recursion: the plain reference for a few hundred levels."""
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


_LEVEL = st.tuples(
    st.booleans(),  # an array, or an object
    st.booleans(),  # the deeper value first, or last
    st.sampled_from(["", "a", "\u00e9", "\U0001f600"]),  # the key that leads deeper
    st.sampled_from([None, [], {}, [[]], {"b": [1]}, "x", 2**53]),  # a sibling, nested up to two levels
)


@st.composite
def _nested_near_the_limit(draw: st.DrawFn) -> object:
    """A value nested within a few levels of MAX_NESTING, in a random mix of arrays and objects, with siblings."""
    value = draw(_SCALARS)
    levels = draw(st.lists(_LEVEL, min_size=MAX_NESTING - 2, max_size=MAX_NESTING + 2))
    for is_array, deeper_first, key, sibling in levels:
        if is_array:
            value = [value, sibling] if deeper_first else [sibling, value]
        else:
            value = {key: value, "\u00e9" if key == "a" else "a": sibling}
    return value


@settings(max_examples=200, deadline=None)
@given(_nested_near_the_limit())
def test_nesting_beyond_the_limit_is_refused_wherever_it_lies(value):
    """Issue 13: the nesting check gathers a level's types at C speed; the limit stays exact, in every spelling."""
    too_deep = _depth(value) > MAX_NESTING
    for data in _respellings(value):
        try:
            parsed = parse_json(data, what=WHAT)
        except CanonicalJSONError as err:
            assert too_deep or "nested too deeply" not in str(err)
        else:
            assert not too_deep
            assert _depth(parsed) == _depth(value)
        assert _accepted_now(data) == ("refused" if too_deep else _accepted_before_issue_13(data))


def _object_text(pairs: list[tuple[str, object]]) -> bytes:
    members = (
        json.dumps(key, ensure_ascii=False) + ":" + _respellings(value)[1].decode("utf-8", "surrogatepass")
        for key, value in pairs
    )
    return ("{" + ",".join(members) + "}").encode("utf-8", "surrogatepass")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(_TEXT, _VALUES), min_size=1, max_size=4), _VALUES, st.sampled_from([b"%s", b"[%s]", b'{"a":%s}'])
)
def test_a_duplicate_key_is_refused_wherever_it_lies(pairs, repeated, wrapping):
    """The fast path finds a duplicate key only by the serialisation it shrinks; that is enough, in any position."""
    pairs = sorted([*pairs, (pairs[0][0], repeated)], key=lambda pair: pair[0])
    data = wrapping % _object_text(pairs)
    assert _accepted_now(data) == "refused"


_JSON_CHARACTERS = st.sampled_from('{}[]":,0123456789-.eE tufalsn\\/\u00e9\ue000\u2028\U0001f600\ud800\x00')


@settings(max_examples=1000, deadline=None)
@given(st.text(_JSON_CHARACTERS, max_size=24))
def test_arbitrary_text_is_accepted_exactly_as_before(text):
    """Whatever the bytes (canonical or not, ASCII or not, 4-byte UTF-8, escapes, numbers): the verdict as before."""
    data = text.encode("utf-8", "surrogatepass")
    assert _accepted_now(data) == _accepted_before_issue_13(data)


def _members(value: object, keys: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    """Every object member of `value` reached through objects only, with the keys that lead to it."""
    if not isinstance(value, dict):
        return []
    return [(keys + (key,), member) for key, member in value.items()] + [
        found for key, member in value.items() for found in _members(member, keys + (key,))
    ]


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_TEXT, _VALUES | st.dictionaries(_TEXT, _VALUES, max_size=3), min_size=1, max_size=4))
def test_a_member_of_a_parsed_document_has_its_canonical_form(value):
    """Issue 13: a member's bytes are sliced from the document, or serialised again off the fast path; the same."""
    try:
        document = parse_canonical_document(canonical_json(value), what=WHAT, members=[k for k, _ in _members(value)])
    except CanonicalJSONError:
        return  # no canonical form, or one that does not read back (2.0**53)
    for keys, member in _members(document.value):
        assert bytes(document.member_bytes(*keys)) == canonical_json(member)


def test_a_document_keeps_the_place_of_only_the_members_asked_for():
    """Keeping every member's keys and place cost memory as members times depth: 1.4 GB for 17 MB nested 98 deep."""
    data = canonical_json({"predicate": {"files": [], "version": "1"}, "subject": {"predicate": {"files": []}}, "z": 1})
    assert parse_canonical_document(data, what=WHAT).member_spans == {}
    asked = parse_canonical_document(data, what=WHAT, members=[("predicate", "files"), ("z",), ("subject", "x")])
    assert asked.member_spans.keys() == {("predicate", "files"), ("z",)}
    assert bytes(asked.member_bytes("predicate", "files")) == b"[]"
    assert bytes(asked.member_bytes("z")) == b"1"


_FILE_ITEMS = st.fixed_dictionaries(
    {"path": _TEXT.filter(lambda text: "\ud800" not in text), "size": st.integers(0, 2**53 - 1)},
    optional={"executable": st.booleans(), "sha256": st.text("0123456789abcdef", min_size=64, max_size=64)},
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_FILE_ITEMS, max_size=8), st.none() | _TEXT.filter(lambda text: "\ud800" not in text))
def test_a_file_list_hashed_from_the_document_has_the_tree_digest(files, version):
    """Issue 13: a manifest's tree digest is hashed from its slice of the signed bytes, as if serialised again."""
    predicate = {"files": files} if version is None else {"files": files, "version": version}
    data = canonical_json({"_type": "statement", "predicate": predicate, "subject": [{"name": "x"}]})
    document = parse_canonical_document(data, what=WHAT, members=[("predicate", "files")])
    member = document.member_bytes("predicate", "files")
    assert hashlib.sha256(member).hexdigest() == plain_canonical_list_sha256(files)


@pytest.mark.parametrize("length", [0, 1, 4096, 4097, 10_000])
def test_a_long_file_list_is_sliced_from_the_document_where_the_comparison_found_it(length):
    files = [{"path": f"f{index}", "size": index} for index in range(length)]
    data = canonical_json({"a": 1, "predicate": {"files": files, "z": []}})
    document = parse_canonical_document(data, what=WHAT, members=[("predicate", "files")])
    assert ("predicate", "files") in document.member_spans
    member = document.member_bytes("predicate", "files")
    assert hashlib.sha256(member).hexdigest() == plain_canonical_list_sha256(files)
