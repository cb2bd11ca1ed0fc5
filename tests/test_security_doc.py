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


def test_threat_rows_are_numbered_in_sequence_once_each() -> None:
    """Rows are cited by number ("row 42"): a number given twice, or skipped, points a reader at the wrong row."""
    text = (ROOT / "SECURITY.md").read_text()
    numbers = re.findall(r"^\| (\d+)([a-z]?) \|", text, flags=re.MULTILINE)
    assert len(numbers) >= 20
    expected = 1
    for number, sub_row in numbers:
        if sub_row:
            assert int(number) == expected - 1, f"SECURITY.md row {number}{sub_row} follows row {expected - 1}"
        else:
            assert int(number) == expected, f"SECURITY.md row {number} where row {expected} comes next"
            expected += 1


def test_no_threat_is_listed_twice() -> None:
    text = (ROOT / "SECURITY.md").read_text()
    threats = re.findall(r"^\| \d+[a-z]? \| (.+?) \|", text, flags=re.MULTILINE)
    repeated = {threat for threat in threats if threats.count(threat) > 1}
    assert not repeated, f"SECURITY.md lists these threats twice: {sorted(repeated)}"
