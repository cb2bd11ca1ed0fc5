"""Pure data for packseal: canonical JSON, bundle manifests, in-toto Statements, provenance, Git.

No keys, no network, nothing from `signing`. The names imported below are
the public API; they load on first use (PEP 562, `attest.exports`), so
importing one module does not load protobuf for all of them.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from attest.build_facts import ExplicitSource as ExplicitSource
    from attest.build_facts import gather_build_facts as gather_build_facts
    from attest.build_facts import github_actions_facts as github_actions_facts
    from attest.canonical import canonical_json as canonical_json
    from attest.canonical import parse_canonical_json as parse_canonical_json
    from attest.commit_id import check_full_commit as check_full_commit
    from attest.errors import AttestError as AttestError
    from attest.errors import CanonicalJSONError as CanonicalJSONError
    from attest.errors import GitError as GitError
    from attest.errors import ManifestError as ManifestError
    from attest.errors import PacksealError as PacksealError
    from attest.errors import ProvenanceError as ProvenanceError
    from attest.errors import StatementError as StatementError
    from attest.git import Checkout as Checkout
    from attest.manifest import BUNDLE_MANIFEST_PREDICATE_TYPE as BUNDLE_MANIFEST_PREDICATE_TYPE
    from attest.manifest import FileEntry as FileEntry
    from attest.manifest import Manifest as Manifest
    from attest.manifest import SymlinkEntry as SymlinkEntry
    from attest.manifest import differences as differences
    from attest.manifest import manifest_from_statement as manifest_from_statement
    from attest.manifest import manifest_statement as manifest_statement
    from attest.manifest import manifest_version as manifest_version
    from attest.provenance import PROVENANCE_PREDICATE_TYPE as PROVENANCE_PREDICATE_TYPE
    from attest.provenance import BuildFacts as BuildFacts
    from attest.provenance import Provenance as Provenance
    from attest.provenance import provenance_statement as provenance_statement
    from attest.repository_url import normalise_repository as normalise_repository
    from attest.statement import Statement as Statement
    from attest.statement import Subject as Subject
else:
    from attest.exports import lazy_exports

    __getattr__, __dir__ = lazy_exports(globals())
    del lazy_exports
