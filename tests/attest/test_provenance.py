"""SLSA Provenance v1: what is written, what is read back, and how repositories compare."""

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from attest.canonical import canonical_json
from attest.errors import ProvenanceError, StatementError
from attest.manifest import BUNDLE_MANIFEST_PREDICATE_TYPE
from attest.provenance import (
    LOCAL_BUILD_TYPE,
    PROVENANCE_PREDICATE_TYPE,
    BuildFacts,
    Provenance,
    normalise_repository,
    provenance_statement,
)
from attest.statement import Subject

COMMIT = "0123456789abcdef0123456789abcdef01234567"
SHA256_COMMIT = "fedcba9876543210" * 4
SUBJECT = Subject("pack", "a" * 64)
STARTED = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
FINISHED = datetime(2025, 1, 2, 3, 9, 0, tzinfo=UTC)


def _facts(**changes) -> BuildFacts:
    fields = {
        "source_repository": "https://github.com/acme/pack",
        "source_commit": COMMIT,
        "source_ref": "refs/tags/v1.0",
        "builder_id": "https://ci.example/builder",
        "build_type": LOCAL_BUILD_TYPE,
        "invocation_id": "https://ci.example/runs/7",
    } | changes
    return BuildFacts(**fields)


def _statement_bytes(facts: BuildFacts | None = None) -> bytes:
    return provenance_statement(SUBJECT, facts or _facts(), started_on=STARTED, finished_on=FINISHED).to_bytes()


def _edited(edit: Callable[[dict], None]) -> bytes:
    """The canonical bytes of a good provenance Statement after `edit`."""
    document = json.loads(_statement_bytes())
    edit(document)
    return canonical_json(document)


def _read(data: bytes) -> Provenance:
    return Provenance.from_bytes(data, what="provenance.json")


def test_the_predicate_states_source_builder_and_times_as_slsa_v1():
    document = json.loads(_statement_bytes())
    assert document["predicateType"] == PROVENANCE_PREDICATE_TYPE
    assert document["subject"] == [{"name": "pack", "digest": {"sha256": "a" * 64}}]
    assert document["predicate"]["buildDefinition"]["resolvedDependencies"] == [
        {"uri": "git+https://github.com/acme/pack@refs/tags/v1.0", "digest": {"gitCommit": COMMIT}}
    ]
    assert document["predicate"]["runDetails"] == {
        "builder": {"id": "https://ci.example/builder"},
        "metadata": {
            "invocationId": "https://ci.example/runs/7",
            "startedOn": "2025-01-02T03:04:05Z",
            "finishedOn": "2025-01-02T03:09:00Z",
        },
    }


@pytest.mark.parametrize(
    ("repository", "ref", "commit"),
    [
        ("https://github.com/acme/pack", "refs/tags/v1.0", COMMIT),
        ("https://github.com/acme/pack", None, COMMIT),
        ("https://github.com/acme/pack.git/", "refs/heads/main", SHA256_COMMIT),
        ("ssh://git@git.example:2222/acme/pack", "refs/heads/release@2025", COMMIT),
        ("git@github.com:acme/pack.git", "refs/heads/main", COMMIT),
        ("git@git.example:pack", "refs/heads/main", COMMIT),
    ],
)
def test_round_trip(repository: str, ref: str | None, commit: str):
    facts = _facts(source_repository=repository, source_ref=ref, source_commit=commit)
    provenance = _read(_statement_bytes(facts))
    assert provenance == Provenance(
        subjects=(SUBJECT,),
        source_repository=repository,
        source_commit=commit,
        source_ref=ref,
        builder_id="https://ci.example/builder",
    )


@pytest.mark.parametrize("ref", ["main", "v1.0", "heads/main"])
def test_a_ref_that_is_not_full_is_refused_or_read_back_exactly(ref: str):
    """Whatever `BuildFacts` accepts, `Provenance` must read back as written: source and ref."""
    try:
        facts = _facts(source_ref=ref)
    except ProvenanceError:
        return
    provenance = _read(_statement_bytes(facts))
    assert (provenance.source_repository, provenance.source_ref) == (facts.source_repository, ref)


def test_parameters_survive_the_protobuf_types():
    facts = _facts(external_parameters={"workflow": {"path": "release.yml"}}, internal_parameters={"run": "7"})
    definition = json.loads(_statement_bytes(facts))["predicate"]["buildDefinition"]
    assert definition["externalParameters"] == {"workflow": {"path": "release.yml"}}
    assert definition["internalParameters"] == {"run": "7"}


def test_a_statement_of_another_predicate_type_is_refused():
    data = _edited(lambda document: document.update(predicateType=BUNDLE_MANIFEST_PREDICATE_TYPE))
    with pytest.raises(StatementError, match="predicateType"):
        _read(data)


@pytest.mark.parametrize(
    "edit",
    [
        lambda predicate: predicate.update(extra=1),
        lambda predicate: predicate["buildDefinition"].update(sourceCommit=COMMIT),
        lambda predicate: predicate["runDetails"]["builder"].update(trusted=True),
    ],
    ids=["predicate", "buildDefinition", "builder"],
)
def test_an_unknown_field_in_the_predicate_is_refused(edit):
    with pytest.raises(StatementError, match="invalid SLSA provenance v1"):
        _read(_edited(lambda document: edit(document["predicate"])))


def _dependencies(document: dict) -> list:
    return document["predicate"]["buildDefinition"]["resolvedDependencies"]


@pytest.mark.parametrize(
    ("edit", "count"),
    [
        (lambda document: _dependencies(document).clear(), 0),
        (lambda document: _dependencies(document)[0].update(uri="https://github.com/acme/pack"), 0),
        (lambda document: _dependencies(document)[0].update(digest={"sha1": COMMIT}), 0),
        (lambda document: _dependencies(document).append(dict(_dependencies(document)[0])), 2),
        (
            lambda document: _dependencies(document).append(
                {"uri": "git+https://github.com/acme/pack-evil", "digest": {"gitCommit": "f" * 40}}
            ),
            2,
        ),
    ],
    ids=["none", "not-git-uri", "no-gitCommit", "twice", "two-repositories"],
)
def test_exactly_one_git_source_is_required(edit, count: int):
    with pytest.raises(ProvenanceError, match=f"names {count} Git sources; exactly one is required"):
        _read(_edited(edit))


def test_other_resolved_dependencies_beside_the_source_are_allowed():
    other = {"uri": "pkg:pypi/click@8.1.7", "digest": {"sha256": "b" * 64}}
    provenance = _read(_edited(lambda document: _dependencies(document).append(other)))
    assert provenance.source_commit == COMMIT


@pytest.mark.parametrize("commit", [COMMIT[:7], COMMIT[:39], COMMIT.upper(), ""])
def test_build_facts_refuse_an_abbreviated_commit(commit: str):
    with pytest.raises(ProvenanceError, match=r"source commit .* is not a full commit id"):
        _facts(source_commit=commit)


def test_build_facts_refuse_an_empty_builder():
    with pytest.raises(ProvenanceError, match="builder id is required"):
        _facts(builder_id="")


def test_build_facts_refuse_what_is_not_a_repository_url():
    with pytest.raises(ProvenanceError, match="not a repository URL"):
        _facts(source_repository="https://github.com/")


@pytest.mark.parametrize(
    "url",
    [
        "github.com/acme/pack",
        "https://github.com/acme/pack",
        "http://github.com/acme/pack",
        "ssh://git@github.com/acme/pack",
        "git@github.com:acme/pack",
        "github.com:acme/pack.git",
        "git+https://github.com/acme/pack",
        "git+ssh://git@github.com/acme/pack.git",
        "https://GitHub.COM/acme/pack",
        "https://github.com/acme/pack.git",
        "https://github.com/acme/pack/",
        "https://github.com/acme/pack.git/",
        "https://token@github.com/acme/pack",
        "  https://github.com/acme/pack\n",
    ],
)
def test_spellings_of_the_same_repository_normalise_equal(url: str):
    assert normalise_repository(url) == "github.com/acme/pack"


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/Acme/pack",
        "https://github.com/acme/Pack",
        "https://github.com/acme/pack-evil",
        "https://github.com/acme/pac",
        "https://github.com/acme/pack/sub",
        "https://gitlab.com/acme/pack",
        "https://github.com.evil.example/acme/pack",
        "https://github.com@evil.example/acme/pack",
        "https://github.com:8443/acme/pack",
    ],
)
def test_other_repositories_normalise_different(url: str):
    assert normalise_repository(url) != normalise_repository("https://github.com/acme/pack")


def test_the_port_is_kept_and_compared():
    assert normalise_repository("ssh://git@git.example:2222/acme/pack.git") == "git.example:2222/acme/pack"
    assert normalise_repository("https://git.example:2222/acme/pack/") == "git.example:2222/acme/pack"


@pytest.mark.parametrize(
    "url", ["", "   ", "https://github.com", "https://github.com/", "git+https://", "file:///srv/pack"]
)
def test_what_names_no_repository_is_refused(url: str):
    with pytest.raises(ProvenanceError, match="is not a repository URL"):
        normalise_repository(url)
