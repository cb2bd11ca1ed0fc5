"""Pure data for packseal: canonical JSON, bundle manifests, in-toto Statements.

No keys, no network, nothing from `signing`.
"""

from attest.canonical import canonical_json, parse_canonical_json
from attest.errors import AttestError, CanonicalJSONError, ManifestError, StatementError
from attest.manifest import (
    BUNDLE_MANIFEST_PREDICATE_TYPE,
    FileEntry,
    Manifest,
    SymlinkEntry,
    differences,
    manifest_from_statement,
    manifest_statement,
)
from attest.statement import Statement, Subject

__all__ = [
    "BUNDLE_MANIFEST_PREDICATE_TYPE",
    "AttestError",
    "CanonicalJSONError",
    "FileEntry",
    "Manifest",
    "ManifestError",
    "Statement",
    "StatementError",
    "Subject",
    "SymlinkEntry",
    "canonical_json",
    "differences",
    "manifest_from_statement",
    "manifest_statement",
    "parse_canonical_json",
]
