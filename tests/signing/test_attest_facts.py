"""`bundle_build_facts`: a Python caller attesting a bundle gets the rules `packseal attest` applies."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from git_repo import GitRepo, isolate

from attest.build_facts import ExplicitSource
from attest.errors import GitError
from signing.backends.minisign import MinisignSigning
from signing.sign import attest_bundle, bundle_build_facts, sign_with_minisign

BUILDER = "https://ci.example/builder"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    """A clean checkout whose one file, `pack.tar`, is committed."""
    repo = GitRepo.init(tmp_path / "repo", isolate(tmp_path, monkeypatch), origin="https://github.com/acme/pack.git")
    repo.write("pack.tar")
    repo.commit("pack")
    return repo


def test_a_single_file_signed_then_attested_leaves_the_checkout_clean(repo: GitRepo, key_pair):
    """The signature beside the file is packseal's own, not an uncommitted change to the source."""
    bundle = repo.top / "pack.tar"
    sign_with_minisign(str(bundle), key_pair.secret_key)
    facts = bundle_build_facts(str(bundle), ExplicitSource(builder_id=BUILDER), environment={})
    assert facts.source_commit == repo.head
    written = attest_bundle(bundle, facts, MinisignSigning(key_pair.secret_key, None), started_on=datetime.now(UTC))
    assert bundle.with_name("pack.tar.provenance.json") in written.written
    assert bundle_build_facts(bundle, ExplicitSource(builder_id=BUILDER), environment={}).source_commit == repo.head


def test_another_untracked_file_beside_it_is_still_a_change(repo: GitRepo):
    bundle = repo.top / "pack.tar"
    repo.write("pack.tar.minisig.bak")
    with pytest.raises(GitError, match=r"uncommitted changes: pack\.tar\.minisig\.bak"):
        bundle_build_facts(bundle, ExplicitSource(builder_id=BUILDER), environment={})
