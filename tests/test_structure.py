"""The structure of packseal's code: how its modules import each other, and rules written once.

In the import graph, imports inside functions count (a cycle through a lazy
import is still two modules that each need the other); imports under
`if TYPE_CHECKING:` do not, since they never run.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("attest", "signing")


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    return modules


def _run_time_nodes(nodes: list[ast.stmt]) -> Iterator[ast.AST]:
    for node in nodes:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            yield from _run_time_nodes(node.orelse)
            continue
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                yield from _run_time_nodes([child])
            else:
                yield from ast.walk(child)


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    imported = set()
    for node in _run_time_nodes(ast.parse(path.read_text()).body):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        imported.update(name for name in names if name in modules)
    return imported


GRAPH = {name: _imports(path, _modules()) - {name} for name, path in _modules().items()}


def test_no_two_modules_need_each_other():
    def cycle_from(start: str) -> list[str] | None:
        pending = [(start, [start])]
        while pending:
            module, trail = pending.pop()
            for imported in GRAPH[module]:
                if imported == start:
                    return [*trail, start]
                if imported not in trail:
                    pending.append((imported, [*trail, imported]))
        return None

    cycles = [cycle for module in GRAPH if (cycle := cycle_from(module))]
    assert not cycles, " -> ".join(cycles[0])


def test_attest_never_imports_signing():
    for module, imported in GRAPH.items():
        if module.split(".")[0] == "attest":
            assert not {name for name in imported if name.split(".")[0] == "signing"}, module


def _code_words(path: Path) -> Iterator[str]:
    """The strings and attribute names of a module's code; not its prose (docstrings)."""
    tree = ast.parse(path.read_text())
    prose = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose:
            yield node.value
        elif isinstance(node, ast.Attribute):
            yield node.attr


@pytest.mark.parametrize(
    ("rule", "inside", "homes"),
    [
        # An OSError as one line: os_error_line; landing builds an OSError from a C errno (renameat2 through ctypes).
        ("strerror", False, {"attest/errors.py", "signing/landing.py"}),
        ("[0-9a-f]{64}", True, {"attest/statement.py", "attest/commit_id.py"}),  # SHA256_HEX; a SHA-256 commit id
        (".minisig", False, {"signing/layout.py"}),  # where signatures live: minisign_signature, sigstore_bundle
        (".sigstore.json", False, {"signing/layout.py"}),
    ],
)
def test_a_small_rule_is_written_in_one_module(rule: str, inside: bool, homes: set[str]):
    """`rule` is a whole string or attribute of the code; or, `inside`, a part of one (a regex in a larger one)."""
    written_in = {
        path.relative_to(ROOT).as_posix()
        for path in _modules().values()
        if any(rule in word if inside else rule == word for word in _code_words(path))
    }
    assert written_in <= homes
