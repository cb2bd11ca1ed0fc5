"""README's "Command-line reference" is exactly what `packseal COMMAND --help` prints.

Run this file as a script to rewrite the section after changing an option:
`python tests/test_cli_reference.py`.
"""

from __future__ import annotations

import os
from pathlib import Path

from console_script import run_in_process

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
HEADING = "## Command-line reference"
INTRO = (
    "What `packseal COMMAND --help` prints, for every command (`tests/test_cli_reference.py` checks that the two\n"
    "agree, and rewrites this section when run as a script).\n"
)


def command_paths() -> list[str]:
    from signing.cli import cli
    from signing.cli.environment import commands

    return ["", *(path for path, _ in commands(cli))]


def help_text(path: str) -> str:
    result = run_in_process([*path.split(), "--help"], env={**os.environ, "COLUMNS": "100"})
    result.check_returncode()
    return result.stdout.rstrip()


def section() -> str:
    fence = "`" * 3
    parts = [f"{HEADING}\n\n{INTRO}"]
    for path in command_paths():
        parts.append(f"### `packseal{' ' + path if path else ''}`\n\n{fence}text\n{help_text(path)}\n{fence}\n")
    return "\n".join(parts)


def readme_section(text: str) -> str:
    start = text.index(HEADING)
    end = text.find("\n## ", start + len(HEADING))
    return text[start : len(text) if end == -1 else end + 1]


def test_the_readme_reference_is_what_help_prints() -> None:
    text = README.read_text()
    assert HEADING in text, f"README.md lacks {HEADING!r}: run `python tests/test_cli_reference.py`"
    assert readme_section(text) == section(), (
        "README's reference differs from --help: run `python tests/test_cli_reference.py`"
    )


if __name__ == "__main__":
    text = README.read_text()
    updated = (
        text.replace(readme_section(text), section()) if HEADING in text else text.rstrip("\n") + "\n\n" + section()
    )
    README.write_text(updated)
