"""SECURITY.md states a guarantee only where a test backs it: every test it names exists."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_test_named_in_security_md_exists() -> None:
    text = (ROOT / "SECURITY.md").read_text()
    references = re.findall(r"`(tests/[\w/]+\.py)(?:::(\w+))?`", text)
    assert len(references) >= 20
    for path, name in references:
        source = (ROOT / path).read_text()
        assert not name or f"def {name}(" in source, f"SECURITY.md names {path}::{name}, which does not exist"
