"""The bundle manifest: path rules, collisions, strict parsing, the tree digest, differences."""

import copy
import dataclasses
import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attest import manifest
from attest.canonical import canonical_json
from attest.errors import ManifestError, StatementError
from attest.manifest import (
    BUNDLE_MANIFEST_PREDICATE_TYPE,
    FileEntry,
    Manifest,
    SymlinkEntry,
    check_link_target,
    check_path,
    differences,
    manifest_from_statement,
    manifest_statement,
    manifest_version,
    path_differences,
)
from attest.statement import Statement, Subject

SHA_A = "a" * 64
SHA_B = "b" * 64


# --- paths -------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["a", "a/b.txt", "dir/.hidden", "sub/.packseal/x", ".packsealx", "a b", "caf\u00e9", "\U0001f600"]
)
def test_check_path_accepts_a_plain_relative_path(path):
    check_path(path)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "empty path"),
        ("/abs", "absolute path"),
        ("a/../b", "'..' path component"),
        ("..", "'..' path component"),
        ("./a", "'.' or '..' path component"),
        ("a/.", "'.' or '..' path component"),
        ("a//b", "empty, '.' or '..'"),
        ("a/", "empty, '.' or '..'"),
        ("a\\b", "backslash"),
        ("a\x00b", "control character"),
        ("a\nb", "control character"),
        ("a\x1fb", "control character"),
        ("a\x7fb", "control character"),
        (".packseal/x", ".packseal/ cannot be part"),
        (".packseal", ".packseal/ cannot be part"),
        ("e\u0301", "not in Unicode NFC"),
        ("dir/e\u0301.txt", "not in Unicode NFC"),
    ],
)
def test_check_path_refuses(path, message):
    with pytest.raises(ManifestError, match=message):
        check_path(path)


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("l", "a"),
        ("d/l", "../a"),
        ("d/l", ".."),
        ("l", "."),
        ("d/e/l", "../../x"),
        ("l", "sub/.packseal/x"),
        ("l", "nonexistent/but/inside"),
    ],
)
def test_check_link_target_accepts_a_target_inside_the_bundle(path, target):
    check_link_target(path, target)


@pytest.mark.parametrize(
    ("path", "target", "message"),
    [
        ("l", "../x", "leaves the bundle"),
        ("l", "..", "leaves the bundle"),
        ("l", "a/../../x", "leaves the bundle"),
        ("d/l", "../../x", "leaves the bundle"),
        ("l", "/etc/passwd", "absolute"),
        ("l", "", "empty"),
        ("l", "a\\b", "unsafe"),
        ("l", "a\x00", "unsafe"),
        ("l", ".packseal/manifest.json", "points into .packseal/"),
        ("l", ".packseal", "points into .packseal/"),
        ("d/l", "../.packseal/manifest.json", "points into .packseal/"),
        ("l", "d/../.packseal", "points into .packseal/"),
    ],
)
def test_check_link_target_refuses(path, target, message):
    with pytest.raises(ManifestError, match=message):
        check_link_target(path, target)


@pytest.mark.parametrize(
    "entry",
    [
        FileEntry(path="../x", sha256=SHA_A, size=1, executable=False),
        SymlinkEntry(path="/abs", target="a"),
        SymlinkEntry(path="l", target="../x"),
        FileEntry(path="a", sha256=SHA_A.upper(), size=1, executable=False),
        FileEntry(path="a", sha256="a" * 63, size=1, executable=False),
        FileEntry(path="a", sha256="g" * 64, size=1, executable=False),
        FileEntry(path="a", sha256=SHA_A, size=-1, executable=False),
        FileEntry(path="a", sha256=SHA_A, size=2**53 + 1, executable=False),
    ],
    ids=["dotdot", "absolute", "link out", "upper hex", "short hex", "not hex", "negative size", "size > 2**53"],
)
def test_a_manifest_with_a_bad_entry_cannot_be_built(entry):
    with pytest.raises(ManifestError):
        Manifest.from_entries([entry])


@pytest.mark.parametrize("size", [0, 2**53 - 1])
def test_every_size_a_manifest_accepts_has_a_digest(file_entry, size):
    """A manifest that can be built can be digested and signed: the size bound is the JSON one."""
    manifest = Manifest.from_entries([file_entry(size=size)])
    assert len(manifest.digest) == 64


def test_a_size_beyond_exact_json_integers_is_refused_when_built(file_entry):
    with pytest.raises(ManifestError, match="out of range"):
        Manifest.from_entries([file_entry(size=2**53)])


# --- collisions, duplicates, order -------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("A.txt", "a.txt"),
        ("Docs/a", "docs/b"),
        ("\u00df", "ss"),
        ("stra\u00dfe/x", "STRASSE/y"),
        ("lib", "LIB/x"),
        ("\u03a3", "\u03c2"),  # capital sigma and final sigma both fold to sigma
        ("\u01c5", "\u01c6"),  # title-case and lower-case DZ with caron
        ("\u00c9t\u00e9", "\u00e9T\u00c9"),
    ],
)
def test_names_equal_after_case_folding_collide(file_entry, first, second):
    with pytest.raises(ManifestError, match="collide after case-folding"):
        Manifest.from_entries([file_entry(path=first), file_entry(path=second)])


@pytest.mark.parametrize(
    "entries",
    [
        [FileEntry("lib", SHA_A, 1, False), FileEntry("lib/x", SHA_A, 1, False)],
        [SymlinkEntry("a", "b"), FileEntry("a/x", SHA_A, 1, False), FileEntry("b/x", SHA_A, 1, False)],
    ],
    ids=["file is also a directory", "path through a symlink"],
)
def test_an_entry_cannot_also_be_the_parent_of_another(entries):
    """`_check_collisions`: "a file `lib` beside `LIB/x` would not fit at all" -- nor beside `lib/x`."""
    with pytest.raises(ManifestError):
        Manifest.from_entries(entries)


@pytest.mark.parametrize(
    "entries",
    [
        (FileEntry("a", SHA_A, 1, False), FileEntry("a", SHA_A, 1, False)),
        (FileEntry("a", SHA_A, 1, False), FileEntry("a", SHA_B, 2, True)),
        (FileEntry("a", SHA_A, 1, False), SymlinkEntry("a", "b")),
    ],
    ids=["same entry twice", "same path, other content", "file and link"],
)
def test_duplicate_paths_are_refused(entries):
    with pytest.raises(ManifestError, match="duplicate path"):
        Manifest(entries)
    with pytest.raises(ManifestError, match="duplicate path"):
        Manifest.from_entries(entries)


@pytest.mark.parametrize(("first", "second"), [("b", "a"), ("a", "B"), ("\u00e9", "z"), ("a/b", "a.txt")])
def test_entries_not_sorted_by_utf8_bytes_are_refused(file_entry, first, second):
    with pytest.raises(ManifestError, match="not sorted"):
        Manifest((file_entry(path=first), file_entry(path=second)))


def test_from_entries_sorts_by_utf8_bytes(file_entry):
    paths = ["\u00e9", "z", "a.txt", "B", "a/b"]
    manifest = Manifest.from_entries(file_entry(path=p) for p in paths)
    assert [e.path for e in manifest.entries] == ["B", "a.txt", "a/b", "z", "\u00e9"]


# --- from_json -------------------------------------------------------------------


def _file_json(**changes):
    entry = {"path": "a", "type": "file", "sha256": SHA_A, "size": 1, "executable": False}
    entry.update(changes)
    return {"files": [entry]}


def _without(key):
    value = _file_json()
    del value["files"][0][key]
    return value


@pytest.mark.parametrize(
    "value",
    [
        [],
        None,
        {},
        {"files": {}},
        {"files": [], "extra": 1},
        {"files": ["a"]},
        {"files": [None]},
        _file_json(extra=1),
        _without("path"),
        _without("type"),
        _without("sha256"),
        _without("size"),
        _without("executable"),
        _file_json(type="directory"),
        _file_json(type="symlink"),
        _file_json(path=1),
        _file_json(sha256=None),
        _file_json(size="1"),
        _file_json(size=True),
        _file_json(size=1.0),
        _file_json(size=-1),
        _file_json(executable=1),
        _file_json(executable="true"),
        {"files": [{"path": "l", "type": "symlink", "target": 1}]},
        {"files": [{"path": "l", "type": "symlink"}]},
        {"files": [{"path": "l", "type": "symlink", "target": "a", "size": 1}]},
        {"files": [{"path": "l", "type": "symlink", "target": "../x"}]},
    ],
    ids=lambda v: json.dumps(v)[:60],
)
def test_from_json_refuses_anything_but_exact_entries(value):
    with pytest.raises(ManifestError):
        Manifest.from_json(value)


def test_from_json_reads_back_to_json(sample_manifest):
    assert Manifest.from_json(sample_manifest.to_json()) == sample_manifest


# --- the tree digest -----------------------------------------------------------


def test_digest_is_sha256_of_the_canonical_file_list():
    manifest = Manifest.from_entries([FileEntry("a", SHA_A, 0, False), SymlinkEntry("l", "a")])
    file_list = (
        b'[{"executable":false,"path":"a","sha256":"' + SHA_A.encode() + b'","size":0,"type":"file"},'
        b'{"path":"l","target":"a","type":"symlink"}]'
    )
    assert manifest.digest == hashlib.sha256(file_list).hexdigest()


def test_digest_does_not_depend_on_the_order_entries_were_given(sample_manifest):
    reordered = Manifest.from_entries(reversed(sample_manifest.entries))
    assert reordered.digest == sample_manifest.digest


@pytest.mark.parametrize(
    ("index", "changes"),
    [
        (0, {"path": "README.txt"}),
        (0, {"sha256": SHA_B}),
        (0, {"size": 13}),
        (0, {"executable": True}),
        (2, {"target": "../README.md"}),
    ],
)
def test_digest_changes_with_any_field(sample_manifest, index, changes):
    entries = list(sample_manifest.entries)
    entries[index] = dataclasses.replace(entries[index], **changes)
    assert Manifest.from_entries(entries).digest != sample_manifest.digest


@pytest.mark.parametrize(
    "change",
    [
        lambda entries: entries[:-1],
        lambda entries: [*entries, FileEntry("zz", SHA_A, 1, False)],
        lambda entries: [SymlinkEntry("README.md", "bin/run"), *entries[1:]],
        lambda entries: [],
    ],
    ids=["entry removed", "entry added", "file becomes link", "empty"],
)
def test_digest_changes_with_the_entry_list(sample_manifest, change):
    changed = Manifest.from_entries(change(list(sample_manifest.entries)))
    assert changed.digest != sample_manifest.digest


# --- differences ---------------------------------------------------------------


FILE = FileEntry("f", SHA_A, 1, False)
LINK = SymlinkEntry("l", "f")


@pytest.mark.parametrize(
    ("signed", "actual", "expected"),
    [
        ([FILE, LINK], [FILE, LINK], []),
        ([FILE, LINK], [LINK], ["missing: f"]),
        ([FILE], [FILE, LINK], ["extra: l"]),
        ([FILE], [dataclasses.replace(FILE, sha256=SHA_B)], ["changed: f"]),
        ([FILE], [dataclasses.replace(FILE, size=2)], ["changed: f"]),
        ([FILE], [SymlinkEntry("f", "l")], ["type changed: f"]),
        ([LINK], [FileEntry("l", SHA_A, 1, False)], ["type changed: l"]),
        ([FILE], [dataclasses.replace(FILE, executable=True)], ["executable bit changed: f"]),
        ([FILE, LINK], [FILE, SymlinkEntry("l", "g")], ["link target changed: l"]),
        (
            [FileEntry("b", SHA_A, 1, False), FileEntry("\u00e9", SHA_A, 1, False)],
            [FileEntry("B", SHA_A, 1, False), FileEntry("a", SHA_A, 1, False)],
            ["extra: B", "extra: a", "missing: b", "missing: \u00e9"],
        ),
    ],
    ids=["same", "missing", "extra", "content", "size", "file to link", "link to file", "exec bit", "target", "sorted"],
)
def test_differences(signed, actual, expected):
    assert differences(Manifest.from_entries(signed), Manifest.from_entries(actual)) == expected


# --- the manifest Statement ------------------------------------------------------


def test_manifest_statement_round_trip(sample_manifest, sample_statement_bytes):
    statement, manifest = manifest_from_statement(sample_statement_bytes, what="m.json")
    assert manifest == sample_manifest
    assert statement.subjects == (Subject(name="bundle", sha256=sample_manifest.digest),)
    assert statement.predicate_type == BUNDLE_MANIFEST_PREDICATE_TYPE


def _statement(manifest, subjects=None, predicate_type=BUNDLE_MANIFEST_PREDICATE_TYPE):
    subjects = subjects or (Subject("bundle", manifest.digest),)
    return Statement(subjects=subjects, predicate_type=predicate_type, predicate=manifest.to_json()).to_bytes()


def _with_document(data, change):
    document = json.loads(data)
    change(document)
    return canonical_json(document)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda m: _statement(m, subjects=(Subject("bundle", SHA_A),)), StatementError, "not the tree digest"),
        (
            lambda m: _statement(m, subjects=(Subject("bundle", m.digest), Subject("other", m.digest))),
            StatementError,
            "not the tree digest",
        ),
        (lambda m: _statement(m, predicate_type="https://slsa.dev/provenance/v1"), StatementError, "predicateType"),
        (
            lambda m: _with_document(_statement(m), lambda d: d.update(_type="https://in-toto.io/Statement/v0.1")),
            StatementError,
            "_type",
        ),
        (
            lambda m: _with_document(_statement(m), lambda d: d["predicate"]["files"][0].update(path="../x")),
            ManifestError,
            "m.json: '../x'",
        ),
        (
            lambda m: _with_document(_statement(m), lambda d: d["predicate"].update(extra=[])),
            ManifestError,
            "m.json: manifest predicate",
        ),
        (lambda m: _statement(m) + b"\n", Exception, "canonical form"),
    ],
    ids=[
        "subject digest",
        "two subjects",
        "predicateType",
        "_type",
        "unsafe path",
        "extra predicate key",
        "not canonical",
    ],
)
def test_manifest_from_statement_refuses(sample_manifest, make, error, message):
    with pytest.raises(error, match=message):
        manifest_from_statement(make(sample_manifest), what="m.json")


def test_changed_manifest_in_statement_no_longer_matches_its_subject(sample_statement_bytes):
    document = json.loads(sample_statement_bytes)
    tampered = copy.deepcopy(document)
    tampered["predicate"]["files"][0]["size"] = 13
    with pytest.raises(StatementError, match="not the tree digest"):
        manifest_from_statement(canonical_json(tampered), what="m.json")


def test_manifest_statement_names_the_bundle_and_its_digest(sample_manifest):
    statement = manifest_statement("my-pack", sample_manifest)
    assert statement.subjects == (Subject("my-pack", sample_manifest.digest),)
    assert statement.predicate == sample_manifest.to_json()


# --- the signed version ----------------------------------------------------------


@pytest.mark.parametrize("version", ["1.2.0", "1.0.0-rc.1+build.5", "2024.1", "v1!2.0.post1", "x" * 128])
def test_a_version_travels_in_the_signed_statement_beside_the_files(sample_manifest, version):
    data = manifest_statement("bundle", sample_manifest, version=version).to_bytes()

    statement, manifest = manifest_from_statement(data, what="m.json")

    assert manifest_version(statement) == version
    assert manifest == sample_manifest
    assert json.loads(data)["predicate"] == {"files": sample_manifest.to_json()["files"], "version": version}
    assert statement.subjects[0].sha256 == sample_manifest.digest, "the tree digest stays the file list's"


def test_a_statement_without_a_version_is_an_unversioned_bundle(sample_statement_bytes):
    statement, _ = manifest_from_statement(sample_statement_bytes, what="m.json")
    assert manifest_version(statement) is None


BAD_VERSIONS = ["", " 1.0", "1.0 ", "1 .0", "x" * 129, "1.0\n", "1.0\x1b[2J", "caf\u00e9", None, 1, 1.5, [], {}]


@pytest.mark.parametrize("version", BAD_VERSIONS, ids=repr)
def test_a_signed_version_that_is_not_a_short_printable_string_is_refused(sample_manifest, version):
    data = _with_document(_statement(sample_manifest), lambda d: d["predicate"].update(version=version))
    with pytest.raises(ManifestError, match=r"m\.json: version .*1 to 128 printable ASCII characters"):
        manifest_from_statement(data, what="m.json")


@pytest.mark.parametrize("version", [v for v in BAD_VERSIONS if isinstance(v, str)], ids=repr)
def test_a_bad_version_cannot_be_signed(sample_manifest, version):
    with pytest.raises(ManifestError, match="printable ASCII"):
        manifest_statement("bundle", sample_manifest, version=version)


# --- names Windows cannot hold --------------------------------------------------


WINDOWS_CLASHES = [
    ("CON", "Windows device name"),
    ("con", "Windows device name"),
    ("con.txt", "Windows device name"),
    ("NUL", "Windows device name"),
    ("nul.tar.gz", "Windows device name"),
    ("NUL .txt", "Windows device name"),
    ("dir/AUX/x", "Windows device name"),
    ("PRN.md", "Windows device name"),
    ("COM1", "Windows device name"),
    ("com0.log", "Windows device name"),
    ("LPT9.log", "Windows device name"),
    ("lpt\u00b9", "Windows device name"),
    ("COM\u00b3.txt", "Windows device name"),
    ("CONIN$", "Windows device name"),
    ("conout$.txt", "Windows device name"),
    ("run.bat.", "ends with a dot or a space"),
    ("run.bat ", "ends with a dot or a space"),
    ("dir./x", "ends with a dot or a space"),
    ("...", "ends with a dot or a space"),
    ("a:b", "character Windows forbids"),
    ("a<b", "character Windows forbids"),
    ("a>b", "character Windows forbids"),
    ('a"b', "character Windows forbids"),
    ("a|b", "character Windows forbids"),
    ("a?b", "character Windows forbids"),
    ("a*b", "character Windows forbids"),
    ("d:/x", "character Windows forbids"),
]


@pytest.mark.parametrize(("path", "message"), WINDOWS_CLASHES)
def test_check_path_refuses_a_name_windows_cannot_hold(path, message):
    with pytest.raises(ManifestError, match=message):
        check_path(path)


@pytest.mark.parametrize(
    "path",
    [
        "CONSOLE",
        "icon.png",
        "NULL",
        "COM10",
        "LPT",
        "xCON",
        "CON_x",
        "auxiliary.txt",
        ".con",
        " con",
        "a.b.c",
        "caf\u00e9.txt",
    ],
)
def test_check_path_accepts_names_that_only_resemble_windows_reserved_ones(path):
    check_path(path)


@pytest.mark.parametrize(("target", "message"), [("CON", "Windows device name"), ("d/x:y", "forbids"), ("a./b", "dot")])
def test_check_link_target_refuses_a_name_windows_cannot_hold(target, message):
    with pytest.raises(ManifestError, match=message):
        check_link_target("l", target)


@pytest.mark.parametrize("path", ["CON", "run.bat.", "run.bat ", "a:b"])
def test_a_signed_manifest_naming_a_windows_clash_is_refused(sample_manifest, path):
    """The rule lives in the manifest model, so a crafted and validly signed manifest is refused too."""
    statement = _statement(sample_manifest)
    crafted = _with_document(statement, lambda d: d["predicate"]["files"][0].update(path=path))
    with pytest.raises(ManifestError, match=f"m.json: {path!r}"):
        manifest_from_statement(crafted, what="m.json")


def test_a_manifest_read_from_json_has_the_digest_of_its_entries(sample_manifest):
    """Issue 13: `from_json` hashes the list as read; it must be the digest the entries themselves give."""
    read = Manifest.from_json(sample_manifest.to_json())
    assert read.digest == Manifest(read.entries).digest == sample_manifest.digest


@pytest.mark.parametrize("version", [None, "1.0"])
@pytest.mark.parametrize("path", ["a.txt", "caf\u00e9", "\U0001f600.txt"], ids=["ASCII", "BMP", "beyond the BMP"])
def test_a_manifest_read_from_a_statement_has_the_digest_of_its_entries(file_entry, path, version):
    """Issue 13: the digest is hashed from the signed bytes (re-serialised off the fast path: a 4-byte character)."""
    manifest = Manifest.from_entries([file_entry(path), file_entry(f"z/{path}", executable=True)])
    data = manifest_statement("bundle", manifest, version=version).to_bytes()
    _, read = manifest_from_statement(data, what="m.json")
    assert read.digest == Manifest(read.entries).digest == manifest.digest


def _outcome(check, path):
    try:
        check(path)
    except ManifestError as err:
        return str(err)
    return None


_NAMES = st.sampled_from(
    ["a", "A.txt", ".hidden", "x..y", "a b", "console", "com", "com10", "auxiliary", ".packsealx", "", ".", ".."]
    + ["con", "CON.txt", "con .x", "Nul ", "com1", "Com9.tar.gz", "lpt0", "conin$", "CONOUT$.a"]
    + [".packseal", ".PackSeal"]
    + ["a.", "a ", "a:b", "a*b", 'a"b', "a<", "a>", "a|", "a?", "a\\b", "a\x00", "\x1f", "a\x7f", "a\nb", "caf\u00e9"]
) | st.text(st.sampled_from("aAcCoOnN1. :$*\\/\x00\n\u00e9"), max_size=6)


@settings(max_examples=2000, deadline=None)
@given(st.lists(_NAMES, min_size=1, max_size=4).map("/".join))
def test_the_one_expression_for_ascii_paths_accepts_exactly_what_every_rule_accepts(path):
    """Issue 13: `check_path` accepts a common path in one expression; it must agree with the rules on every path."""
    by_rule = _outcome(manifest._check_path_rule_by_rule, path)
    assert _outcome(check_path, path) == by_rule
    if path.isascii():
        assert (manifest._PORTABLE_ASCII_PATH.fullmatch(path) is not None) == (by_rule is None)


_ENTRY_FIELDS = st.one_of(
    st.tuples(st.sampled_from([SHA_A, SHA_B]), st.integers(1, 2), st.booleans()),
    st.sampled_from(["a", "b"]).map(lambda target: (target,)),
)
_ENTRY_SETS = st.dictionaries(st.sampled_from(["a", "b", "c/d", "c/e", "f"]), _ENTRY_FIELDS).map(
    lambda fields: Manifest.from_entries(
        FileEntry(path, *rest) if len(rest) == 3 else SymlinkEntry(path, *rest) for path, rest in fields.items()
    )
)


@settings(max_examples=300, deadline=None)
@given(_ENTRY_SETS, _ENTRY_SETS)
def test_differences_name_exactly_the_paths_whose_entries_differ(signed, actual):
    """Issue 13: equal entries are found equal at once; any difference still names each path that differs."""
    old, new = {entry.path: entry for entry in signed.entries}, {entry.path: entry for entry in actual.entries}
    expected = sorted(path for path in old.keys() | new.keys() if old.get(path) != new.get(path))
    for found in (actual, list(actual.entries)):
        assert [path for _, path in path_differences(signed, found)] == expected
