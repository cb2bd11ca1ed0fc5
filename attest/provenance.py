"""SLSA Provenance v1: which source, at which commit, built by whom, produced a bundle.

The predicate is built and read through `in-toto-attestation`'s SLSA v1
protobuf types, so both directions follow the published schema (unknown
fields are refused on reading); like `attest.statement`, they are imported
where used, so commands that never touch provenance do not load them. The
source is recorded the way GitHub's own
build provenance records it: a resolved dependency
`git+<repository URL>@<ref>` with digest `{"gitCommit": <full SHA>}`.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from attest.commit_id import check_full_commit
from attest.errors import GitError, ProvenanceError, StatementError
from attest.repository_url import normalise_repository
from attest.statement import Statement, Subject

if TYPE_CHECKING:
    from google.protobuf.timestamp_pb2 import Timestamp

PROVENANCE_PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
GITHUB_WORKFLOW_BUILD_TYPE = "https://actions.github.io/buildtypes/workflow/v1"
LOCAL_BUILD_TYPE = "https://packseal.dev/buildtypes/local/v1"


@dataclass(frozen=True)
class BuildFacts:
    """What a provenance attestation states about a build, gathered from CI or a checkout."""

    source_repository: str
    source_commit: str
    source_ref: str | None
    builder_id: str
    build_type: str
    invocation_id: str | None = None
    external_parameters: dict[str, Any] = field(default_factory=dict)
    internal_parameters: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            check_full_commit(self.source_commit, what="source commit")
        except GitError as err:
            raise ProvenanceError(str(err)) from None
        if self.source_ref is not None and not self.source_ref.startswith("refs/"):
            raise ProvenanceError(f"source ref {self.source_ref!r} is not a full ref name (refs/...)")
        if not self.builder_id:
            raise ProvenanceError("a builder id is required")
        normalise_repository(self.source_repository)


def provenance_statement(
    subject: Subject, facts: BuildFacts, *, started_on: datetime, finished_on: datetime
) -> Statement:
    """The provenance Statement for one bundle or file."""
    from google.protobuf import json_format
    from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
    from in_toto_attestation.v1 import resource_descriptor_pb2

    source_uri = f"git+{facts.source_repository}" + (f"@{facts.source_ref}" if facts.source_ref else "")
    predicate = provenance_pb2.Provenance(
        build_definition=provenance_pb2.BuildDefinition(
            build_type=facts.build_type,
            resolved_dependencies=[
                resource_descriptor_pb2.ResourceDescriptor(uri=source_uri, digest={"gitCommit": facts.source_commit})
            ],
        ),
        run_details=provenance_pb2.RunDetails(
            builder=provenance_pb2.Builder(id=facts.builder_id),
            metadata=provenance_pb2.BuildMetadata(
                invocation_id=facts.invocation_id or "",
                started_on=_timestamp(started_on),
                finished_on=_timestamp(finished_on),
            ),
        ),
    )
    predicate.build_definition.external_parameters.update(facts.external_parameters)
    predicate.build_definition.internal_parameters.update(facts.internal_parameters)
    return Statement(
        subjects=(subject,),
        predicate_type=PROVENANCE_PREDICATE_TYPE,
        predicate=json_format.MessageToDict(predicate),
    )


@dataclass(frozen=True)
class Provenance:
    """The facts an installer checks, read from a provenance Statement."""

    subjects: tuple[Subject, ...]
    source_repository: str
    source_commit: str
    source_ref: str | None
    builder_id: str

    @classmethod
    def from_bytes(cls, data: bytes, *, what: str) -> "Provenance":
        from google.protobuf import json_format
        from in_toto_attestation.predicates.provenance.v1 import provenance_pb2

        statement = Statement.from_bytes(data, what=what, predicate_type=PROVENANCE_PREDICATE_TYPE)
        try:
            predicate = json_format.ParseDict(statement.predicate, provenance_pb2.Provenance())
        except json_format.ParseError as err:
            raise StatementError(f"{what}: invalid SLSA provenance v1: {' '.join(str(err).split())}") from None
        sources = [
            dependency
            for dependency in predicate.build_definition.resolved_dependencies
            if dependency.uri.startswith("git+") and "gitCommit" in dependency.digest
        ]
        if len(sources) != 1:
            raise ProvenanceError(f"{what}: names {len(sources)} Git sources; exactly one is required")
        repository, ref = _split_source_uri(sources[0].uri)
        return cls(
            subjects=statement.subjects,
            source_repository=repository,
            source_commit=sources[0].digest["gitCommit"],
            source_ref=ref,
            builder_id=predicate.run_details.builder.id,
        )


def _split_source_uri(uri: str) -> tuple[str, str | None]:
    """`git+https://host/owner/name@refs/tags/v1` → (`https://host/owner/name`, `refs/tags/v1`).

    The ref starts at the first `@refs/`: the `@` of `git@host:owner/name` or
    `ssh://git@host/...` belongs to the repository, and a ref may itself hold
    an `@` (`refs/heads/release@2025`).
    """
    text = uri.removeprefix("git+")
    repository, at, ref = text.partition("@refs/")
    return (repository, "refs/" + ref) if at else (text, None)


def _timestamp(moment: datetime) -> "Timestamp":
    from google.protobuf.timestamp_pb2 import Timestamp

    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp
