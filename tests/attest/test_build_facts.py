"""Build facts from a simulated GitHub Actions job, a real checkout, and explicit options."""

import re
from pathlib import Path

import pytest
from git_repo import GitRepo, github_job, isolate

from attest.build_facts import ExplicitSource, gather_build_facts, github_actions_facts
from attest.errors import GitError, ProvenanceError
from attest.provenance import GITHUB_WORKFLOW_BUILD_TYPE, LOCAL_BUILD_TYPE

ORIGIN = "https://github.com/acme/pack.git"
OTHER_COMMIT = "0123456789abcdef0123456789abcdef01234567"
BUILDER = "https://ci.example/builder"


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Neither the `git` that makes the fixtures nor `attest` sees the caller's configuration or CI state."""
    return isolate(tmp_path, monkeypatch)


@pytest.fixture
def repo(tmp_path: Path, environment: dict[str, str]) -> GitRepo:
    """A clean checkout of acme/pack on main, whose pack directory is committed."""
    repo = GitRepo.init(tmp_path / "repo", environment, origin=ORIGIN)
    repo.write("pack/README.md")
    repo.commit("pack")
    return repo


@pytest.fixture
def pack(repo: GitRepo) -> Path:
    return repo.top / "pack"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A pack directory in no checkout."""
    pack = tmp_path / "plain" / "pack"
    pack.mkdir(parents=True)
    return pack


def test_github_actions_facts_are_derived_from_the_job():
    facts = github_actions_facts(github_job(OTHER_COMMIT))
    assert facts is not None
    assert facts.source_repository == "https://github.com/acme/pack"
    assert facts.source_commit == OTHER_COMMIT
    assert facts.source_ref == "refs/heads/main"
    assert facts.builder_id == "https://github.com/actions/runner/github-hosted"
    assert facts.build_type == GITHUB_WORKFLOW_BUILD_TYPE
    assert facts.invocation_id == "https://github.com/acme/pack/actions/runs/4242/attempts/2"
    assert facts.external_parameters == {
        "workflow": {
            "ref": "refs/heads/main",
            "repository": "https://github.com/acme/pack",
            "path": ".github/workflows/release.yml",
        }
    }
    assert facts.internal_parameters["github"] == {
        "event_name": "push",
        "runner_environment": "github-hosted",
        "workflow_ref": "acme/pack/.github/workflows/release.yml@refs/heads/main",
    }


def test_an_enterprise_server_url_names_repository_and_builder():
    environment = github_job(OTHER_COMMIT) | {"GITHUB_SERVER_URL": "https://git.acme.example/"}
    facts = github_actions_facts(environment)
    assert facts is not None
    assert facts.source_repository == "https://git.acme.example/acme/pack"
    assert facts.builder_id == "https://git.acme.example/actions/runner/github-hosted"


@pytest.mark.parametrize("flag", [None, "false", "1", "True"])
def test_without_github_actions_true_there_are_no_github_facts(flag: str | None):
    environment = github_job(OTHER_COMMIT)
    del environment["GITHUB_ACTIONS"]
    if flag is not None:
        environment["GITHUB_ACTIONS"] = flag
    assert github_actions_facts(environment) is None


@pytest.mark.parametrize(
    "variable",
    [
        "GITHUB_REPOSITORY",
        "GITHUB_SHA",
        "GITHUB_REF",
        "GITHUB_WORKFLOW_REF",
        "GITHUB_RUN_ID",
        "GITHUB_RUN_ATTEMPT",
        "GITHUB_SERVER_URL",
        "RUNNER_ENVIRONMENT",
    ],
)
@pytest.mark.parametrize("absence", ["unset", "empty"])
def test_a_missing_github_variable_is_named(variable: str, absence: str):
    environment = github_job(OTHER_COMMIT)
    if absence == "unset":
        del environment[variable]
    else:
        environment[variable] = ""
    with pytest.raises(ProvenanceError, match=f"GitHub Actions environment lacks {variable}$"):
        github_actions_facts(environment)


def test_a_job_in_its_checkout_at_github_sha_is_attested(repo: GitRepo, pack: Path):
    facts = gather_build_facts(pack, github_job(repo.head, ref="refs/tags/v1.0"), ExplicitSource())
    assert facts.source_commit == repo.head
    assert facts.source_ref == "refs/tags/v1.0"
    assert facts.build_type == GITHUB_WORKFLOW_BUILD_TYPE


def test_github_sha_other_than_head_is_refused(repo: GitRepo, pack: Path):
    expected = (
        f"source commit disagrees between sources: {OTHER_COMMIT} (GITHUB_SHA), {repo.head} (the checkout's HEAD)"
    )
    with pytest.raises(ProvenanceError, match=re.escape(expected)):
        gather_build_facts(pack, github_job(OTHER_COMMIT), ExplicitSource())


def test_github_repository_other_than_origin_is_refused(repo: GitRepo, pack: Path):
    environment = github_job(repo.head) | {"GITHUB_REPOSITORY": "acme/pack-evil"}
    with pytest.raises(ProvenanceError, match="source repository disagrees between sources"):
        gather_build_facts(pack, environment, ExplicitSource())


def test_an_explicit_builder_overrides_the_runner(repo: GitRepo, pack: Path):
    facts = gather_build_facts(pack, github_job(repo.head), ExplicitSource(builder_id=BUILDER))
    assert facts.builder_id == BUILDER


def test_a_local_checkout_gives_origin_head_and_branch(repo: GitRepo, pack: Path):
    facts = gather_build_facts(pack, {}, ExplicitSource(builder_id=BUILDER))
    assert (facts.source_repository, facts.source_commit, facts.source_ref) == (ORIGIN, repo.head, "refs/heads/main")
    assert (facts.builder_id, facts.build_type) == (BUILDER, LOCAL_BUILD_TYPE)


def test_an_explicit_commit_other_than_head_is_refused(repo: GitRepo, pack: Path):
    explicit = ExplicitSource(commit=OTHER_COMMIT, builder_id=BUILDER)
    expected = (
        f"source commit disagrees between sources: {OTHER_COMMIT} (--source-commit), {repo.head} (the checkout's HEAD)"
    )
    with pytest.raises(ProvenanceError, match=re.escape(expected)):
        gather_build_facts(pack, {}, explicit)


def test_an_explicit_commit_equal_to_head_is_accepted(repo: GitRepo, pack: Path):
    facts = gather_build_facts(pack, {}, ExplicitSource(commit=repo.head, builder_id=BUILDER))
    assert facts.source_commit == repo.head


def test_an_explicit_repository_other_than_origin_is_refused(pack: Path):
    explicit = ExplicitSource(repository="https://github.com/acme/pack-evil", builder_id=BUILDER)
    expected = (
        "source repository disagrees between sources: "
        f"https://github.com/acme/pack-evil (--source-repo), {ORIGIN} (the checkout's origin)"
    )
    with pytest.raises(ProvenanceError, match=re.escape(expected)):
        gather_build_facts(pack, {}, explicit)


def test_an_explicit_ref_is_attested_from_a_detached_checkout(repo: GitRepo, pack: Path):
    repo.git("checkout", "-q", "--detach")
    facts = gather_build_facts(pack, {}, ExplicitSource(ref="refs/tags/v1.0", builder_id=BUILDER))
    assert facts.source_ref == "refs/tags/v1.0"


def test_an_explicit_ref_other_than_the_branch_is_refused(repo: GitRepo, pack: Path):
    explicit = ExplicitSource(ref="refs/tags/v1.0", builder_id=BUILDER)
    expected = (
        "source ref disagrees between sources: refs/tags/v1.0 (--source-ref), refs/heads/main (the checkout's branch)"
    )
    with pytest.raises(ProvenanceError, match=re.escape(expected)):
        gather_build_facts(pack, {}, explicit)


def test_an_explicit_ref_other_than_github_ref_is_refused(repo: GitRepo, pack: Path):
    with pytest.raises(ProvenanceError, match=re.escape("refs/tags/v2.0 (--source-ref), refs/tags/v1.0 (GITHUB_REF)")):
        gather_build_facts(pack, github_job(repo.head, ref="refs/tags/v1.0"), ExplicitSource(ref="refs/tags/v2.0"))


@pytest.mark.parametrize("repository", ["git@github.com:acme/pack", "https://GitHub.com/acme/pack/"])
def test_an_explicit_repository_equal_to_origin_after_normalisation_is_accepted(pack: Path, repository: str):
    facts = gather_build_facts(pack, {}, ExplicitSource(repository=repository, builder_id=BUILDER))
    assert facts.source_repository == repository


def test_a_checkout_without_origin_needs_an_explicit_repository(repo: GitRepo, pack: Path):
    repo.git("remote", "remove", "origin")
    with pytest.raises(ProvenanceError, match=r"no source repository known: pass --source-repo$"):
        gather_build_facts(pack, {}, ExplicitSource(builder_id=BUILDER))


@pytest.mark.parametrize("changed", ["pack/README.md", "pack/new.txt", "elsewhere.txt"])
def test_a_dirty_checkout_is_refused(repo: GitRepo, pack: Path, changed: str):
    repo.write(changed, "uncommitted\n")
    with pytest.raises(GitError, match=f"uncommitted changes: {changed}"):
        gather_build_facts(pack, github_job(repo.head), ExplicitSource())


@pytest.mark.parametrize("rule", [".gitignore", ".git/info/exclude"])
def test_an_ignored_file_in_the_bundle_is_refused(repo: GitRepo, pack: Path, rule: str):
    """The bundle ships it, and commit C does not hold it: provenance naming C would be false."""
    repo.write(rule, "*.env\n")
    if rule == ".gitignore":
        repo.commit("ignore")
    repo.write("pack/secrets.env", "TOKEN=local\n")
    with pytest.raises(GitError, match=r"uncommitted changes: pack/secrets\.env \(not in the commit\)$"):
        gather_build_facts(pack, github_job(repo.head), ExplicitSource())
    facts = gather_build_facts(pack, github_job(repo.head), ExplicitSource(), allow_dirty=True)
    assert facts.source_commit == repo.head


def test_an_ignored_file_beside_the_bundle_is_not_a_change(repo: GitRepo, pack: Path):
    repo.write(".gitignore", "/build/\n")
    repo.commit("ignore")
    repo.write("build/cache.bin")
    facts = gather_build_facts(pack, github_job(repo.head), ExplicitSource())
    assert facts.source_commit == repo.head


def test_a_dirty_checkout_is_attested_with_allow_dirty(repo: GitRepo, pack: Path):
    repo.write("pack/README.md", "uncommitted\n")
    facts = gather_build_facts(pack, github_job(repo.head), ExplicitSource(), allow_dirty=True)
    assert facts.source_commit == repo.head


def test_signatures_written_into_packseal_are_not_changes(repo: GitRepo, pack: Path):
    repo.write("pack/.packseal/manifest.json")
    repo.write("pack/.packseal/manifest.json.minisig")
    facts = gather_build_facts(pack, github_job(repo.head), ExplicitSource(), signature_dir=".packseal")
    assert facts.source_commit == repo.head


def test_outside_ci_a_builder_id_is_required(pack: Path):
    with pytest.raises(ProvenanceError, match="--builder-id is required"):
        gather_build_facts(pack, {}, ExplicitSource())


def test_outside_any_checkout_explicit_repository_and_commit_are_attested(outside: Path):
    explicit = ExplicitSource(repository="https://github.com/acme/pack", commit=OTHER_COMMIT, builder_id=BUILDER)
    facts = gather_build_facts(outside, {}, explicit)
    assert (facts.source_repository, facts.source_commit, facts.source_ref) == (
        "https://github.com/acme/pack",
        OTHER_COMMIT,
        None,
    )
    assert facts.build_type == LOCAL_BUILD_TYPE


@pytest.mark.parametrize(
    ("explicit", "message"),
    [
        (ExplicitSource(commit=OTHER_COMMIT, builder_id=BUILDER), "no source repository known: pass --source-repo$"),
        (ExplicitSource(repository=ORIGIN, builder_id=BUILDER), "no source commit known: pass --source-commit$"),
    ],
)
def test_outside_any_checkout_repository_and_commit_must_be_given(outside: Path, explicit, message: str):
    with pytest.raises(ProvenanceError, match=message):
        gather_build_facts(outside, {}, explicit)


def test_outside_any_checkout_an_abbreviated_commit_is_refused(outside: Path):
    explicit = ExplicitSource(repository=ORIGIN, commit=OTHER_COMMIT[:7], builder_id=BUILDER)
    with pytest.raises(ProvenanceError, match="not a full commit id"):
        gather_build_facts(outside, {}, explicit)
