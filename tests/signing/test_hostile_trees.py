"""Hostile trees end in a Verdict or one clear error, never another exception (issue 9, section 5).

Hypothesis builds real trees on disk from the shapes reviews used: deep
nesting, long names (past NAME_MAX too), names with line breaks, escapes,
C1 controls, bidi overrides, decomposed accents, Windows device names and
bytes that are not UTF-8, links in and out of the bundle, FIFOs, empty
directories and directories of many files. For each tree:

- a signed bundle that gains the tree after signing is verified in process:
  the answer is a `Verdict`;
- signing the whole tree either succeeds, and then it verifies, or raises a
  `PacksealError`/`AttestError` whose own text is one line (names the tree
  chose are the CLI's to escape).

The trees are built on tmpfs when there is one: making hundreds of nested
directories on a journalled disk would take most of the time budget.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from deep_tree import make_chain, remove_tree
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attest.errors import AttestError
from signing.backends.minisign import MinisignKeyring, MinisignSigning
from signing.errors import PacksealError
from signing.policy import TrustPolicy
from signing.sign import sign_bundle
from signing.verify import Verdict, verify_bundle

# Deeper than a recursive walk survives, even under the recursion limit Hypothesis raises to about 2,000.
_DEEP = 1500
_ODD_CHARACTERS = "aA. -_:\\\t\n\r\x1b\x7f\x85\x9b\u00e9e\u0301\u2028\u202e\u200f~"


@dataclass(frozen=True)
class File:
    content: bytes
    executable: bool


@dataclass(frozen=True)
class Link:
    target: bytes


@dataclass(frozen=True)
class Fifo:
    pass


@dataclass(frozen=True)
class Chain:
    """Directories nested `depth` deep, a file at the bottom or not."""

    depth: int
    leaf: bool


@dataclass(frozen=True)
class Many:
    """A directory of `count` small files."""

    count: int


@dataclass(frozen=True)
class Directory:
    children: dict[bytes, Node]


Node = File | Link | Fifo | Chain | Many | Directory


def _is_name(name: bytes) -> bool:
    return name not in (b".", b"..") and b"/" not in name and b"\x00" not in name


plain_names = st.text("abcAB.-_", min_size=1, max_size=6)
odd_names = st.one_of(
    st.text(_ODD_CHARACTERS, min_size=1, max_size=8),
    st.sampled_from(["CON", "nul.txt", "run.bat.", "run.bat ", "a:b", "README", "readme", "caf\u00e9", "cafe\u0301"]),
    st.integers(200, 300).map(lambda length: "n" * length),
)
# Mostly plain names, so that one odd name or node does not stop every walk before the rest of the tree.
names = st.one_of(
    plain_names.map(os.fsencode),
    plain_names.map(os.fsencode),
    plain_names.map(os.fsencode),
    odd_names.map(os.fsencode),
    st.binary(min_size=1, max_size=6),
).filter(_is_name)

link_targets = st.one_of(
    st.sampled_from([b"..", b"../..", b"/etc/passwd", b".packseal", b"./.packseal/manifest.json", b".", b"x/../../y"]),
    names,
)

leaves = st.one_of(
    st.builds(File, st.binary(max_size=32), st.booleans()),
    st.builds(File, st.binary(max_size=32), st.booleans()),
    st.just(Directory({})),
    st.builds(Chain, st.one_of(st.integers(1, 40), st.just(_DEEP)), st.booleans()),
    st.builds(Many, st.integers(1, 150)),
    st.builds(Link, link_targets),
    st.just(Fifo()),
)

trees = st.recursive(
    leaves, lambda children: st.dictionaries(names, children, max_size=4).map(Directory), max_leaves=10
)

# `.packseal/` at the root is the signature directory, checked by its own tests; here it is only nested.
hostile_roots = st.dictionaries(names.filter(lambda name: name != b".packseal"), trees, min_size=1, max_size=5)


def _build(directory: bytes, name: bytes, node: Node) -> None:
    """Make `node` as `directory/name`; a node the file system refuses (a name too long) is left out."""
    path = directory + b"/" + name
    try:
        if isinstance(node, File):
            with open(path, "wb") as stream:
                stream.write(node.content)
            os.chmod(path, 0o755 if node.executable else 0o644)
        elif isinstance(node, Link):
            os.symlink(node.target, path)
        elif isinstance(node, Fifo):
            os.mkfifo(path)
        elif isinstance(node, Chain):
            os.mkdir(path)
            make_chain(Path(os.fsdecode(path)), node.depth - 1, leaf_file=b"bottom" if node.leaf else None)
        elif isinstance(node, Many):
            os.mkdir(path)
            for index in range(node.count):
                with open(path + b"/f%d" % index, "wb") as stream:
                    stream.write(b"%d" % index)
        else:
            os.mkdir(path)
            for child_name, child in node.children.items():
                _build(path, child_name, child)
    except OSError:
        pass


def _without(message: str, tree: dict[bytes, Node]) -> str:
    """The message with every name the tree chose taken out: what is left is packseal's own text."""
    for name in sorted(_names_in(tree), key=len, reverse=True):
        message = message.replace(name, "")
    return message


def _names_in(tree: dict[bytes, Node]) -> set[str]:
    found: set[str] = set()
    pending = [tree]
    while pending:
        children = pending.pop()
        for name, node in children.items():
            found.add(os.fsdecode(name))
            if isinstance(node, Link):
                found.add(os.fsdecode(node.target))
            if isinstance(node, Directory):
                pending.append(node.children)
    return found


def _scratch() -> str | None:
    return "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


def _one_line_error(err: Exception, tree: dict[bytes, Node]) -> None:
    assert isinstance(err, (PacksealError, AttestError)), f"{type(err).__name__}: {err}"
    own_text = _without(str(err), tree)
    assert own_text.strip() and len(own_text.splitlines()) == 1, repr(str(err))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=hostile_roots)
def test_a_hostile_tree_ends_in_a_verdict_or_one_clear_error(tree, key_pair):
    policy = TrustPolicy((MinisignKeyring([key_pair.public_key]),))
    signing = MinisignSigning(key_pair.secret_key, trusted_comment="hostile")
    scratch = tempfile.mkdtemp(dir=_scratch())
    try:
        root = Path(scratch) / "pack"
        root.mkdir()
        (root / "base.txt").write_bytes(b"signed before the tree arrived\n")
        sign_bundle(root, signing)
        for name, node in tree.items():
            _build(os.fsencode(root), name, node)

        assert isinstance(verify_bundle(root, policy), Verdict)

        try:
            sign_bundle(root, signing)
        except Exception as err:  # noqa: BLE001 - the point is which exceptions may escape
            _one_line_error(err, tree)
        else:
            verdict = verify_bundle(root, policy)
            assert verdict.verified, verdict.refusal
    finally:
        remove_tree(scratch)
