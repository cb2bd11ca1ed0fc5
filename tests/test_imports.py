"""The import graph of packseal's modules: no cycles, and `attest` never imports `signing`.

Imports inside functions count (a cycle through a lazy import is still two
modules that each need the other); imports under `if TYPE_CHECKING:` do not,
since they never run.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

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
