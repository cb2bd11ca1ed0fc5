"""Pure data for packseal: canonical JSON, bundle manifests, in-toto Statements, provenance, Git.

No keys, no network, nothing from `signing`. Exports load on first use
(PEP 562), so importing one module does not load protobuf for all of them.
"""

from typing import TYPE_CHECKING

from attest.exports import lazy_exports

_EXPORTS = {
    "canonical_json": "attest.canonical",
    "parse_canonical_json": "attest.canonical",
    "AttestError": "attest.errors",
    "PacksealError": "attest.errors",
    "CanonicalJSONError": "attest.errors",
    "ManifestError": "attest.errors",
    "StatementError": "attest.errors",
    "BUNDLE_MANIFEST_PREDICATE_TYPE": "attest.manifest",
    "FileEntry": "attest.manifest",
    "Manifest": "attest.manifest",
    "SymlinkEntry": "attest.manifest",
    "differences": "attest.manifest",
    "manifest_from_statement": "attest.manifest",
    "manifest_statement": "attest.manifest",
    "Statement": "attest.statement",
    "Subject": "attest.statement",
    "PROVENANCE_PREDICATE_TYPE": "attest.provenance",
    "BuildFacts": "attest.provenance",
    "Provenance": "attest.provenance",
    "ProvenanceError": "attest.errors",
    "normalise_repository": "attest.provenance",
    "provenance_statement": "attest.provenance",
    "ExplicitSource": "attest.build_facts",
    "gather_build_facts": "attest.build_facts",
    "github_actions_facts": "attest.build_facts",
    "Checkout": "attest.git",
    "GitError": "attest.errors",
    "check_full_commit": "attest.git",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:
    from attest.build_facts import ExplicitSource, gather_build_facts, github_actions_facts
    from attest.canonical import canonical_json, parse_canonical_json
    from attest.errors import (
        AttestError,
        CanonicalJSONError,
        GitError,
        ManifestError,
        PacksealError,
        ProvenanceError,
        StatementError,
    )
    from attest.git import Checkout, check_full_commit
    from attest.manifest import (
        BUNDLE_MANIFEST_PREDICATE_TYPE,
        FileEntry,
        Manifest,
        SymlinkEntry,
        differences,
        manifest_from_statement,
        manifest_statement,
    )
    from attest.provenance import (
        PROVENANCE_PREDICATE_TYPE,
        BuildFacts,
        Provenance,
        normalise_repository,
        provenance_statement,
    )
    from attest.statement import Statement, Subject
