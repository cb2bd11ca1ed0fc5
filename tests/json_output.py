"""Parse what a packseal command printed with `--json`, and validate it against the shipped schema.

Every test that reads `--json` output goes through `parse`, so every JSON
object the suite produces is checked against `signing/schemas/output.schema.json`.
"""

import json
from typing import Any

import jsonschema

from signing.schemas import output_schema

_VALIDATOR = jsonschema.Draft202012Validator(output_schema(), format_checker=jsonschema.FormatChecker())


def parse(stdout: str) -> dict[str, Any]:
    """The one JSON object on stdout, after it validated against the schema (raises if not)."""
    document = json.loads(stdout)
    _VALIDATOR.validate(document)
    assert isinstance(document, dict)
    return document
