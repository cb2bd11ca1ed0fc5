"""Package exports that load on first use (PEP 562), listed once. Internal plumbing, not API.

`attest` and `signing` export their public API from `__init__`, and both
must stay cheap to import: a daemon's startup self-check imports one module
and must not pay for protobuf, sigstore or the rest of packseal. So a
package's `__init__` imports nothing at run time; its exports are one
table, the block

    if TYPE_CHECKING:
        from attest.canonical import canonical_json as canonical_json
    else:
        __getattr__, __dir__ = lazy_exports(globals())

Type checkers read the imports (the `NAME as NAME` form marks each one a
re-export, as `mypy --strict` requires). At run time the first attribute
lookup the package lacks reads the same imports from the package's source
with `ast`, once, and each name is imported from its module when first
used. The table cannot disagree with itself, because there is only one.
"""

from collections.abc import Callable
from importlib import import_module
from typing import Any

Exports = dict[str, tuple[str, str]]
"""Exported name → (module, name in that module)."""


def lazy_exports(namespace: dict[str, Any]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The `__getattr__` and `__dir__` of the package whose `globals()` is `namespace`.

    `__all__` is served the same way: the sorted exported names.
    """
    package: str = namespace["__name__"]
    table: Exports = {}

    def exports() -> Exports:
        if not table:
            table.update(read_exports(package, namespace["__spec__"].loader))
        return table

    def __getattr__(name: str) -> Any:
        if name == "__all__":
            value: Any = sorted(exports())
        elif name in exports():
            module, attribute = exports()[name]
            value = getattr(import_module(module), attribute)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(exports())

    return __getattr__, __dir__


def read_exports(package: str, loader: Any) -> Exports:
    """The `from MODULE import NAME as NAME` lines of the package's top-level `if TYPE_CHECKING:` block."""
    import ast

    source = loader.get_source(package) if hasattr(loader, "get_source") else None
    if source is None:
        raise ImportError(f"{package}: its source is not installed, so its exports cannot be listed", name=package)
    exports: Exports = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and statement.module is not None:
                    for alias in statement.names:
                        exports[alias.asname or alias.name] = (statement.module, alias.name)
    return exports
