"""The export table of `attest` and `signing`: written once, read by type checkers and at run time alike."""

import ast
import importlib
import subprocess
import sys
from types import SimpleNamespace

import pytest

from attest.exports import read_exports

PACKAGES = ["attest", "signing"]


def _type_checking_imports(package: str) -> list[ast.alias]:
    source = importlib.util.find_spec(package).loader.get_source(package)
    block = next(
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
    )
    return [alias for statement in block.body for alias in statement.names]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_export_is_an_explicit_re_export(package: str):
    """`from M import X as X`: without the alias, `mypy --strict` refuses `from package import X` in user code."""
    for alias in _type_checking_imports(package):
        assert alias.asname == alias.name, f"{package}: write `{alias.name} as {alias.name}`"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_export_loads_the_object_its_module_defines(package: str):
    module = importlib.import_module(package)
    table = read_exports(package, module.__spec__.loader)
    assert table and sorted(table) == module.__all__ == dir(module)
    for name, (source, attribute) in table.items():
        assert getattr(module, name) is getattr(importlib.import_module(source), attribute), name


@pytest.mark.parametrize("package", PACKAGES)
def test_an_unknown_name_is_an_attribute_error(package: str):
    with pytest.raises(AttributeError, match=f"module '{package}' has no attribute 'missing'"):
        importlib.import_module(package).missing  # noqa: B018 - the access is what is tested


def test_importing_both_packages_imports_none_of_their_modules():
    code = (
        "import sys, attest, signing; print(sorted(m for m in sys.modules if m.split('.')[0] in ('attest', 'signing')))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "['attest', 'attest.exports', 'signing']"


def test_a_package_installed_without_its_source_says_so():
    sourceless = SimpleNamespace(get_source=lambda name: None)
    with pytest.raises(ImportError, match="acme: its source is not installed"):
        read_exports("acme", sourceless)
