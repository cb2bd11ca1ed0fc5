"""The JSON Schema of everything packseal prints with `--json`, shipped with the package.

`output.schema.json` describes the objects a `--json` command prints,
one per run: a bundle's verdict (`verify-bundle`), a passed self-check
(`self check`), an audit log's verdict (`audit verify`, `audit show`), and
an error (any command, on a refusal raised as an error or a usage error).
Each carries `schema`, this module's `JSON_SCHEMA_VERSION`.
"""

import json
from functools import cache
from typing import Any

JSON_SCHEMA_VERSION = 1
"""The `schema` field of every JSON object packseal prints.

It changes only when a field is removed or changes meaning; fields may be
added within one version, so a reader ignores fields it does not know.
"""

OUTPUT_SCHEMA_NAME = "output.schema.json"


@cache
def output_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) that every `--json` output of this version validates against."""
    # Imported here, not at start-up: only tests read the schema, and importlib.resources is slow to import.
    from importlib.resources import files

    schema: dict[str, Any] = json.loads(files(__name__).joinpath(OUTPUT_SCHEMA_NAME).read_text(encoding="utf-8"))
    return schema
