"""Gather what provenance states: from GitHub Actions, a local checkout, and explicit options.

Every source that is present must agree: an explicit `--source-commit`
inside a checkout must be its HEAD, `GITHUB_SHA` must be the HEAD of the
checkout the job built, a repository named twice must normalise to the
same one. A disagreement is refused rather than resolved, because
provenance that picks one of two conflicting answers is a guess.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from attest.errors import NotACheckoutError, ProvenanceError
from attest.git import Checkout
from attest.provenance import GITHUB_WORKFLOW_BUILD_TYPE, LOCAL_BUILD_TYPE, BuildFacts
from attest.repository_url import normalise_repository

_GITHUB_VARIABLES = (
    "GITHUB_REPOSITORY",
    "GITHUB_SHA",
    "GITHUB_REF",
    "GITHUB_WORKFLOW_REF",
    "GITHUB_RUN_ID",
    "GITHUB_RUN_ATTEMPT",
    "GITHUB_SERVER_URL",
    "RUNNER_ENVIRONMENT",
)


@dataclass(frozen=True)
class ExplicitSource:
    """What the user stated on the command line; each field optional."""

    repository: str | None = None
    commit: str | None = None
    builder_id: str | None = None
    ref: str | None = None
    """The full source ref (`refs/tags/v1.2`): a detached checkout has none of its own."""


def gather_build_facts(
    path: Path,
    environment: Mapping[str, str],
    explicit: ExplicitSource,
    *,
    allow_dirty: bool = False,
    signature_files: Iterable[Path] = (),
    signature_dir: str | None = None,
) -> BuildFacts:
    """The build facts for the bundle at `path`, refusing a dirty or disagreeing source.

    `signature_files` are the files packseal writes beside a single-file
    bundle, and `signature_dir` the name of the directory it writes
    signatures into (`.packseal`); neither is a change to the source
    (`Checkout.changes`).
    """
    checkout = _checkout_containing(path)
    if checkout is not None and not allow_dirty:
        checkout.require_clean(bundle=path, besides=signature_files, signature_dir=signature_dir)
    github = github_actions_facts(environment)
    repository = _required(
        "source repository",
        "--source-repo",
        _agreed(
            "source repository",
            {
                "--source-repo": explicit.repository,
                "GITHUB_REPOSITORY": github.source_repository if github else None,
                "the checkout's origin": _origin_repository(checkout) if checkout else None,
            },
            normalise_repository,
        ),
    )
    commit = _required(
        "source commit",
        "--source-commit",
        _agreed(
            "source commit",
            {
                "--source-commit": explicit.commit,
                "GITHUB_SHA": github.source_commit if github else None,
                "the checkout's HEAD": checkout.head if checkout else None,
            },
        ),
    )
    if github is not None:
        return BuildFacts(
            source_repository=repository,
            source_commit=commit,
            source_ref=_agreed("source ref", {"--source-ref": explicit.ref, "GITHUB_REF": github.source_ref}),
            builder_id=explicit.builder_id or github.builder_id,
            build_type=github.build_type,
            invocation_id=github.invocation_id,
            external_parameters=github.external_parameters,
            internal_parameters=github.internal_parameters,
        )
    if not explicit.builder_id:
        raise ProvenanceError("outside GitHub Actions, --builder-id is required: name the system that built this")
    return BuildFacts(
        source_repository=repository,
        source_commit=commit,
        source_ref=_agreed(
            "source ref",
            {"--source-ref": explicit.ref, "the checkout's branch": checkout.branch() if checkout else None},
        ),
        builder_id=explicit.builder_id,
        build_type=LOCAL_BUILD_TYPE,
    )


def github_actions_facts(environment: Mapping[str, str]) -> BuildFacts | None:
    """The facts of a GitHub Actions job, as GitHub's own build provenance states them."""
    if environment.get("GITHUB_ACTIONS") != "true":
        return None
    missing = [name for name in _GITHUB_VARIABLES if not environment.get(name)]
    if missing:
        raise ProvenanceError(f"GitHub Actions environment lacks {', '.join(missing)}")
    server = environment["GITHUB_SERVER_URL"].rstrip("/")
    repository = f"{server}/{environment['GITHUB_REPOSITORY']}"
    workflow_path = environment["GITHUB_WORKFLOW_REF"].split("@", 1)[0].split("/", 2)[-1]
    return BuildFacts(
        source_repository=repository,
        source_commit=environment["GITHUB_SHA"],
        source_ref=environment["GITHUB_REF"],
        builder_id=f"{server}/actions/runner/{environment['RUNNER_ENVIRONMENT']}",
        build_type=GITHUB_WORKFLOW_BUILD_TYPE,
        invocation_id=(
            f"{repository}/actions/runs/{environment['GITHUB_RUN_ID']}/attempts/{environment['GITHUB_RUN_ATTEMPT']}"
        ),
        external_parameters={
            "workflow": {"ref": environment["GITHUB_REF"], "repository": repository, "path": workflow_path}
        },
        internal_parameters={
            "github": {
                "event_name": environment.get("GITHUB_EVENT_NAME", ""),
                "runner_environment": environment["RUNNER_ENVIRONMENT"],
                "workflow_ref": environment["GITHUB_WORKFLOW_REF"],
            }
        },
    )


def _checkout_containing(path: Path) -> Checkout | None:
    """The checkout holding `path`; None only when there is no `.git` at all.

    A `.git` that cannot be read (damaged, hostile, an unsupported format,
    an unborn HEAD) is refused: read as "no checkout", it would skip the
    clean-worktree check and let any commit be stated for what was built.
    """
    try:
        return Checkout.containing(path)
    except NotACheckoutError:
        return None


def _origin_repository(checkout: Checkout) -> str | None:
    """The checkout's origin, when it is a repository URL (a clone of a local path has none)."""
    origin = checkout.origin_url()
    try:
        return origin if origin and normalise_repository(origin) else None
    except ProvenanceError:
        return None


def _agreed(what: str, candidates: Mapping[str, str | None], normalise: Callable[[str], str] = str) -> str | None:
    """The one value all present candidates agree on (after `normalise`), None when none is present.

    `candidates` maps where a value came from to the value; two that
    disagree are refused, each named with its source, so the user knows
    which one to correct.
    """
    present = {source: value for source, value in candidates.items() if value}
    if len({normalise(value) for value in present.values()}) > 1:
        named = ", ".join(f"{value} ({source})" for source, value in present.items())
        raise ProvenanceError(f"{what} disagrees between sources: {named}")
    return next(iter(present.values()), None)


def _required(what: str, option: str, value: str | None) -> str:
    if value is None:
        raise ProvenanceError(f"no {what} known: pass {option}")
    return value
