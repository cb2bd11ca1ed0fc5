"""Provenance end to end: a pack built, signed and attested once, then installed against pins.

One module-scoped fixture makes a real Git repository, commits a pack, a
second pack and a single file in it, and signs and attests them with
`packseal` as a maintainer would. Every test then plays the installer:
`verify-bundle` with a source pin, on the built tree or on a copy it
tampers with, and reads the JSON verdict for the check that refused.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import json_output
import minisign as pyminisign
import pytest
from git_repo import GITHUB_WORKFLOW, GitRepo, clean_environment, github_job, run_packseal

from signing.pins import LockFile

ORIGIN = "https://github.com/acme/pack.git"
REPOSITORY = "https://github.com/acme/pack"
REF = "refs/heads/main"
BUILDER = "https://ci.acme.example/builders/release"
DIR_CHECKS = ["layout", "signature", "statement", "files"]
SOURCE_CHECKS = [
    "provenance",
    "provenance-subject",
    "source-repository",
    "source-commit",
    "source-ref",
    "builder",
    "git-checkout",
]


run = run_packseal


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return clean_environment(tmp_path_factory.mktemp("home"), ceiling=tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, environment: dict[str, str], key_store, cli) -> SimpleNamespace:
    """A repository at commit A holding `pack` (signed, attested) and `other-pack` (signed).

    A single file, built into the ignored `dist/` as release artifacts are,
    is signed and attested too.
    """
    keys = key_store("trusted")
    repo = GitRepo.init(tmp_path_factory.mktemp("provenance") / "repo", environment, origin=ORIGIN)
    repo.write("CHANGELOG", "0.9\n")
    parent = repo.commit("parent")
    cli.build_pack(repo.top / "pack")
    cli.build_pack(repo.top / "other-pack")
    repo.write("other-pack/OTHER", "another bundle\n")
    repo.write(".gitignore", "/dist/\n")
    commit = repo.commit("release")
    repo.write("dist/tool-1.0.tar.gz", "not really a tarball\n")

    def succeed(*arguments: Any) -> str:
        result = run(environment, *arguments)
        assert result.returncode == 0, cli.describe(result)
        return result.stdout

    bundles = {
        "pack": repo.top / "pack",
        "other": repo.top / "other-pack",
        "file": repo.top / "dist" / "tool-1.0.tar.gz",
    }
    digests = {}
    for name, bundle in bundles.items():
        signed = succeed("sign", bundle, "--minisign-key", keys.key)
        digests[name] = signed.split("(sha256:", 1)[1].split(")", 1)[0]
    attested = {
        name: succeed("attest", bundles[name], "--minisign-key", keys.key, "--builder-id", BUILDER)
        for name in ("pack", "file")
    }
    return SimpleNamespace(
        repo=repo, keys=keys, parent=parent, commit=commit, digests=digests, attested=attested, **bundles
    )


@pytest.fixture
def copy(built: SimpleNamespace, tmp_path: Path) -> SimpleNamespace:
    """A private copy of the built repository, .git included, for a test to tamper with."""
    top = Path(shutil.copytree(built.repo.top, tmp_path / "repo", symlinks=True))
    return SimpleNamespace(repo=GitRepo(top, built.repo.environment), pack=top / "pack", other=top / "other-pack")


def pin(
    built: SimpleNamespace, *, repo: str = REPOSITORY, commit: str | None = None, ref: str = REF, builder: str = BUILDER
) -> list[str]:
    """verify-bundle options pinning everything provenance states; each can be overridden."""
    return [
        "--source-repo", repo,
        "--source-commit", commit or built.commit,
        "--source-ref", ref,
        "--builder-id", builder,
    ]  # fmt: skip


def verify_run(built: SimpleNamespace, bundle: Path, *options: Any) -> subprocess.CompletedProcess:
    """Run verify-bundle trusting the maintainer's key."""
    return run(built.repo.environment, "verify-bundle", bundle, "--minisign-pubkey", built.keys.pub, *options)


def verify(built: SimpleNamespace, bundle: Path, *options: Any, cli) -> dict:
    """Run verify-bundle --json trusting the maintainer's key; return the verdict."""
    return verdict_of(verify_run(built, bundle, *options, "--json"), cli)


def verdict_of(result: subprocess.CompletedProcess, cli) -> dict:
    """The JSON verdict of a verify-bundle run that verified (exit 0) or refused (exit 1)."""
    assert result.returncode in (0, 1), cli.describe(result)
    verdict = json_output.parse(result.stdout)
    assert verdict["verified"] is (result.returncode == 0), cli.describe(result)
    return verdict


def names(verdict: dict) -> list[str]:
    return [check["name"] for check in verdict["checks"]]


def assert_verified(verdict: dict, expected: list[str]) -> None:
    assert verdict["verified"] is True, verdict
    assert names(verdict) == expected, verdict
    assert all(check["ok"] for check in verdict["checks"]), verdict


def refused_at(verdict: dict, check: str, *, before: list[str]) -> str:
    """The checks ran in order up to `check`, which alone failed; return its detail."""
    expected = before + SOURCE_CHECKS[: SOURCE_CHECKS.index(check) + 1]
    assert verdict["verified"] is False, verdict
    assert names(verdict) == expected, verdict
    assert [c["ok"] for c in verdict["checks"]] == [True] * (len(expected) - 1) + [False], verdict
    return verdict["checks"][-1]["detail"]


def assert_usage_error(result: subprocess.CompletedProcess, message: str, cli) -> None:
    assert result.returncode == 2, cli.describe(result)
    if "--json" in result.args:
        assert json_output.parse(result.stdout)["verified"] is False, cli.describe(result)
    else:
        assert result.stdout == "", cli.describe(result)
    assert result.stderr.startswith("packseal: error: ") and message in result.stderr, cli.describe(result)


# --- the pinned commit -------------------------------------------------------


def test_the_pinned_commit_is_verified_with_every_source_check_ok(built, cli):
    verdict = verify(built, built.pack, *pin(built), "--git-checkout", cli=cli)
    assert_verified(verdict, DIR_CHECKS + SOURCE_CHECKS)
    assert verdict["digest"] == f"sha256:{built.digests['pack']}"


def test_repository_and_commit_alone_are_a_pin(built, cli):
    options = ["--source-repo", REPOSITORY, "--source-commit", built.commit]
    verdict = verify(built, built.pack, *options, cli=cli)
    assert_verified(verdict, DIR_CHECKS + SOURCE_CHECKS[:4])


@pytest.mark.parametrize(
    "spelling", ["git@github.com:acme/pack.git", "https://GitHub.com/acme/pack/", "github.com/acme/pack"]
)
def test_the_repository_may_be_spelled_differently(built, cli, spelling: str):
    assert verify(built, built.pack, *pin(built, repo=spelling), cli=cli)["verified"] is True


# --- refusals, each named in the verdict ------------------------------------


def test_a_pin_of_another_commit_is_refused_at_source_commit(built, cli):
    verdict = verify(built, built.pack, *pin(built, commit=built.parent), cli=cli)
    detail = refused_at(verdict, "source-commit", before=DIR_CHECKS)
    assert built.commit in detail and built.parent in detail


def test_provenance_of_another_bundle_is_refused_at_provenance_subject(built, copy, cli):
    for name in ("provenance.json", "provenance.json.minisig"):
        shutil.copy2(copy.pack / ".packseal" / name, copy.other / ".packseal" / name)
    verdict = verify(built, copy.other, *pin(built), cli=cli)
    detail = refused_at(verdict, "provenance-subject", before=DIR_CHECKS)
    assert built.digests["pack"] in detail and built.digests["other"] in detail


@pytest.mark.parametrize(
    "repository",
    [
        "https://github.com/acme/pack-evil",
        "git@github.com:acme/pack-evil.git",
        "https://github.com/Acme/pack",
        "https://gitlab.com/acme/pack",
    ],
)
def test_another_repository_is_refused_at_source_repository(built, cli, repository: str):
    verdict = verify(built, built.pack, *pin(built, repo=repository), cli=cli)
    refused_at(verdict, "source-repository", before=DIR_CHECKS)


@pytest.mark.parametrize("ref", ["refs/heads/evil", "refs/tags/v1.0", "main"])
def test_another_ref_is_refused_at_source_ref(built, cli, ref: str):
    verdict = verify(built, built.pack, *pin(built, ref=ref), cli=cli)
    refused_at(verdict, "source-ref", before=DIR_CHECKS)


def test_another_builder_is_refused_at_builder(built, cli):
    verdict = verify(built, built.pack, *pin(built, builder="https://ci.evil.example/builder"), cli=cli)
    refused_at(verdict, "builder", before=DIR_CHECKS)


def test_a_bundle_without_provenance_is_refused_when_pinned(built, cli):
    assert verify(built, built.other, cli=cli)["verified"] is True
    verdict = verify(built, built.other, *pin(built), cli=cli)
    assert "requires signed provenance" in refused_at(verdict, "provenance", before=DIR_CHECKS)


def _remove_signature(provenance: Path, keys) -> None:
    provenance.with_name(provenance.name + ".minisig").unlink()


def _sign_with_other_key(provenance: Path, keys) -> None:
    signature = provenance.with_name(provenance.name + ".minisig")
    comment = signature.read_text().splitlines()[2].removeprefix("trusted comment: ")
    secret = pyminisign.SecretKey.from_file(keys.key)
    signature.write_bytes(bytes(secret.sign(provenance.read_bytes(), prehash=True, trusted_comment=comment)) + b"\n")


@pytest.mark.parametrize("tamper", [_remove_signature, _sign_with_other_key], ids=["unsigned", "untrusted-key"])
def test_provenance_not_signed_by_a_trusted_key_is_refused(built, copy, other_keys, cli, tamper):
    tamper(copy.pack / ".packseal" / "provenance.json", other_keys)
    verdict = verify(built, copy.pack, *pin(built), cli=cli)
    refused_at(verdict, "provenance", before=DIR_CHECKS)


@pytest.mark.parametrize("commit", ["short", "medium", "uppercase"])
def test_an_abbreviated_pin_is_a_usage_error(built, cli, commit: str):
    spelled = {"short": built.commit[:7], "medium": built.commit[:12], "uppercase": built.commit.upper()}[commit]
    result = verify_run(built, built.pack, *pin(built, commit=spelled), "--json")
    assert_usage_error(result, "not a full commit id", cli)


def test_a_commit_without_a_repository_is_a_usage_error(built, cli):
    result = verify_run(built, built.pack, "--source-commit", built.commit)
    assert_usage_error(result, "needs both --source-repo and --source-commit", cli)


# --- --git-checkout ---------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        lambda repo: repo.write("CHANGELOG", "1.0 (unreleased)\n"),
        lambda repo: repo.write("untracked.txt"),
        lambda repo: (repo.write("staged.txt"), repo.git("add", "staged.txt")),
    ],
    ids=["modified", "untracked", "staged"],
)
def test_changes_beside_the_bundle_do_not_concern_git_checkout(built, copy, cli, change):
    """`--git-checkout` is about what is installed: the bundle is commit C's tree, whatever lies beside it.

    Changes inside the bundle are refused: tests/cli/test_git_checkout_cli.py.
    """
    change(copy.repo)
    verdict = verify(built, copy.pack, *pin(built), "--git-checkout", cli=cli)
    assert_verified(verdict, DIR_CHECKS + SOURCE_CHECKS)


def test_a_checkout_at_another_commit_is_refused_at_git_checkout(built, copy, cli):
    copy.repo.write("CHANGELOG", "1.0\n")
    later = copy.repo.commit("later", "CHANGELOG")
    verdict = verify(built, copy.pack, *pin(built), "--git-checkout", cli=cli)
    detail = refused_at(verdict, "git-checkout", before=DIR_CHECKS)
    assert f"at {later}, not at the pinned commit {built.commit}" in detail


def test_a_bundle_outside_any_checkout_is_refused_at_git_checkout(built, tmp_path, cli):
    unpacked = Path(shutil.copytree(built.pack, tmp_path / "unpacked" / "pack", symlinks=True))
    assert verify(built, unpacked, *pin(built), cli=cli)["verified"] is True
    verdict = verify(built, unpacked, *pin(built), "--git-checkout", cli=cli)
    assert "not a Git checkout" in refused_at(verdict, "git-checkout", before=DIR_CHECKS)


# --- lock files -------------------------------------------------------------


def write_lock(directory: Path, text: str) -> Path:
    lock = directory / "packseal.lock"
    lock.write_text(text)
    return lock


def lock_entry(name: str, commit: str, digest: str, repository: str = REPOSITORY) -> str:
    return f'[bundle.{name}]\nsource_repo = "{repository}"\nsource_commit = "{commit}"\ndigest = "sha256:{digest}"\n'


def verify_locked(built: SimpleNamespace, bundle: Path, lock: Path, cli) -> dict:
    return verify(built, bundle, "--lock", lock, cli=cli)


@pytest.mark.parametrize(("bundle", "checks"), [("pack", DIR_CHECKS), ("file", ["signature"])])
def test_each_bundle_of_a_lock_is_verified(built, tmp_path, cli, bundle: str, checks: list[str]):
    lock = write_lock(
        tmp_path,
        lock_entry("pack", built.commit, built.digests["pack"])
        + lock_entry('"tool-1.0.tar.gz"', built.commit, built.digests["file"]),
    )
    verdict = verify_locked(built, getattr(built, bundle), lock, cli)
    assert_verified(verdict, checks + ["lock-digest"] + SOURCE_CHECKS[:4])


def test_a_lock_entry_may_pin_ref_and_builder(built, tmp_path, cli):
    entry = (
        lock_entry("pack", built.commit, built.digests["pack"]) + f'source_ref = "{REF}"\nbuilder_id = "{BUILDER}"\n'
    )
    verdict = verify_locked(built, built.pack, write_lock(tmp_path, entry), cli)
    assert_verified(verdict, DIR_CHECKS + ["lock-digest"] + SOURCE_CHECKS[:6])


@pytest.mark.parametrize(
    ("key", "value", "check"),
    [("source_ref", "refs/tags/v9", "source-ref"), ("builder_id", "https://evil.example/b", "builder")],
)
def test_a_locked_ref_or_builder_other_than_the_provenance_is_refused(built, tmp_path, cli, key, value, check):
    entry = lock_entry("pack", built.commit, built.digests["pack"]) + f'{key} = "{value}"\n'
    verdict = verify_locked(built, built.pack, write_lock(tmp_path, entry), cli)
    assert verdict["verified"] is False, verdict
    assert verdict["checks"][-1]["name"] == check and verdict["checks"][-1]["ok"] is False, verdict


def test_a_locked_digest_of_other_content_is_refused_at_lock_digest(built, tmp_path, cli):
    lock = write_lock(tmp_path, lock_entry("pack", built.commit, built.digests["other"]))
    verdict = verify_locked(built, built.pack, lock, cli)
    assert names(verdict) == DIR_CHECKS + ["lock-digest"], verdict
    assert verdict["checks"][-1]["ok"] is False and verdict["verified"] is False, verdict


def test_a_locked_commit_other_than_the_provenance_is_refused_at_source_commit(built, tmp_path, cli):
    lock = write_lock(tmp_path, lock_entry("pack", built.parent, built.digests["pack"]))
    verdict = verify_locked(built, built.pack, lock, cli)
    refused_at(verdict, "source-commit", before=DIR_CHECKS + ["lock-digest"])


def test_a_bundle_absent_from_the_lock_is_refused(built, tmp_path, cli):
    lock = write_lock(tmp_path, lock_entry("other-pack", built.commit, built.digests["other"]))
    verdict = verify_locked(built, built.pack, lock, cli)
    assert names(verdict) == ["lock"] and verdict["checks"][0]["ok"] is False, verdict
    assert "[bundle.pack]" in verdict["checks"][0]["detail"]


def _malformed_locks(commit: str, digest: str) -> dict[str, str]:
    entry = lock_entry("pack", commit, digest)
    return {
        "not-toml": "[bundle.pack\n",
        "missing-key": entry.replace(f'digest = "sha256:{digest}"\n', ""),
        "extra-key": entry + 'source_branch = "refs/heads/main"\n',
        "empty-ref": entry + 'source_ref = ""\n',
        "not-a-string": entry.replace(f'"sha256:{digest}"', "1"),
        "abbreviated-commit": lock_entry("pack", commit[:7], digest),
        "bad-digest": lock_entry("pack", commit, digest[:32]),
        "bad-repository": lock_entry("pack", commit, digest, repository="https://github.com/"),
        "other-table": entry + "[extra]\nkey = 1\n",
        "bundle-not-a-table": 'bundle = "pack"\n',
        "empty": "",
    }


@pytest.mark.parametrize("kind", list(_malformed_locks("0" * 40, "0" * 64)))
def test_a_malformed_lock_is_a_usage_error(built, tmp_path, cli, kind: str):
    lock = write_lock(tmp_path, _malformed_locks(built.commit, built.digests["pack"])[kind])
    result = verify_run(built, built.pack, "--lock", lock)
    assert_usage_error(result, str(lock), cli)


def test_a_missing_lock_is_a_usage_error(built, tmp_path, cli):
    result = verify_run(built, built.pack, "--lock", tmp_path / "absent.lock")
    assert_usage_error(result, "cannot read lock file", cli)


def test_a_lock_excludes_source_options(built, tmp_path, cli):
    lock = write_lock(tmp_path, lock_entry("pack", built.commit, built.digests["pack"]))
    result = verify_run(built, built.pack, "--lock", lock, "--source-commit", built.commit)
    assert_usage_error(result, "--lock excludes", cli)


# --- a single-file bundle ----------------------------------------------------


def test_attest_writes_provenance_beside_a_single_file(built):
    provenance = built.file.with_name("tool-1.0.tar.gz.provenance.json")
    signature = built.file.with_name("tool-1.0.tar.gz.provenance.json.minisig")
    assert f"wrote {provenance}" in built.attested["file"]
    assert f"wrote {signature}" in built.attested["file"]
    assert json.loads(provenance.read_bytes())["subject"] == [
        {"name": "tool-1.0.tar.gz", "digest": {"sha256": built.digests["file"]}}
    ]


def test_a_single_file_is_verified_against_its_pin(built, cli):
    verdict = verify(built, built.file, *pin(built), cli=cli)
    assert_verified(verdict, ["signature"] + SOURCE_CHECKS[:-1])


def test_a_built_single_file_is_not_the_commit_at_git_checkout(built, cli):
    """Built into the ignored dist/, it is attested as built from C, but it is not a file of C's tree."""
    verdict = verify(built, built.file, *pin(built), "--git-checkout", cli=cli)
    detail = refused_at(verdict, "git-checkout", before=["signature"])
    assert "dist/tool-1.0.tar.gz (not in the commit)" in detail


def test_a_single_file_pinned_to_another_commit_is_refused(built, cli):
    verdict = verify(built, built.file, *pin(built, commit=built.parent), cli=cli)
    refused_at(verdict, "source-commit", before=["signature"])


def test_a_committed_single_file_signed_in_its_checkout_is_attested_and_is_the_commit(environment, tmp_path, keys, cli):
    """Its signature, written beside it by `packseal sign`, is packseal's output, not a change to the source.

    The same reason that keeps `.packseal/` from counting holds here: `attest`
    does not refuse `tool.tar.gz.minisig` as an uncommitted change, and
    `--git-checkout` compares the file alone with the commit's.
    """
    repo = GitRepo.init(tmp_path / "repo", environment, origin=ORIGIN)
    tool = repo.write("tool.tar.gz", "a committed artifact\n")
    commit = repo.commit("artifact")
    for command in (["sign", tool], ["attest", tool, "--builder-id", BUILDER]):
        result = run(environment, *command, "--minisign-key", keys.key)
        assert result.returncode == 0, cli.describe(result)
    pins = ["--source-repo", REPOSITORY, "--source-commit", commit, "--git-checkout"]
    verified = run(environment, "verify-bundle", tool, "--minisign-pubkey", keys.pub, *pins, "--json")
    assert_verified(verdict_of(verified, cli), ["signature"] + SOURCE_CHECKS[:4] + ["git-checkout"])


# --- Sigstore, in a simulated GitHub Actions job -----------------------------

GITHUB_REPOSITORY = "acme/pack"
WORKFLOW_IDENTITY = f"https://github.com/{GITHUB_REPOSITORY}/{GITHUB_WORKFLOW}@{REF}"
GITHUB_BUILDER = "https://github.com/actions/runner/github-hosted"


@pytest.fixture(scope="module")
def sigstore_built(tmp_path_factory, environment, sigstore_instance, cli) -> SimpleNamespace:
    """A pack signed and attested keylessly by the release workflow of acme/pack, at HEAD."""
    repo = GitRepo.init(tmp_path_factory.mktemp("provenance-sigstore") / "repo", environment, origin=ORIGIN)
    pack = cli.build_pack(repo.top / "pack")
    sha = repo.commit("release")
    job = environment | github_job(sha)
    for command in ("sign", "attest"):
        token = sigstore_instance.mint_github_token(repository=GITHUB_REPOSITORY, ref=REF, sha=sha)
        result = run(job, command, pack, "--sigstore", "--identity-token", token,
                     "--trust-config", sigstore_instance.trust_config)  # fmt: skip
        assert result.returncode == 0, cli.describe(result)
    return SimpleNamespace(repo=repo, pack=pack, commit=sha, trust_config=sigstore_instance.trust_config)


def verify_sigstore(built: SimpleNamespace, *options: Any, cli) -> dict:
    result = run(
        built.repo.environment, "verify-bundle", built.pack, "--trust-config", built.trust_config,
        "--certificate-identity", WORKFLOW_IDENTITY,
        "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com",
        *options, "--json",
    )  # fmt: skip
    return verdict_of(result, cli)


@pytest.mark.sigstore_local
def test_sigstore_provenance_from_a_github_job_is_verified(sigstore_built, cli):
    assert (sigstore_built.pack / ".packseal" / "provenance.sigstore.json").is_file()
    options = pin(sigstore_built, ref=REF, builder=GITHUB_BUILDER)
    verdict = verify_sigstore(sigstore_built, *options, "--git-checkout", cli=cli)
    assert_verified(verdict, DIR_CHECKS + SOURCE_CHECKS)


@pytest.mark.sigstore_local
def test_sigstore_provenance_signed_by_another_identity_is_refused(sigstore_built, sigstore_instance, tmp_path, cli):
    top = Path(shutil.copytree(sigstore_built.repo.top, tmp_path / "repo", symlinks=True))
    copy = SimpleNamespace(**(vars(sigstore_built) | {"pack": top / "pack"}))
    token = sigstore_instance.mint_token("mallory@example.com")
    result = run(sigstore_built.repo.environment | github_job(sigstore_built.commit), "attest", copy.pack,
                 "--sigstore", "--identity-token", token, "--trust-config", copy.trust_config)  # fmt: skip
    assert result.returncode == 0, cli.describe(result)
    verdict = verify_sigstore(copy, *pin(copy, ref=REF, builder=GITHUB_BUILDER), cli=cli)
    assert "mallory@example.com" not in str(verdict["signers"])
    refused_at(verdict, "provenance", before=DIR_CHECKS)


@pytest.mark.sigstore_local
def test_sigstore_provenance_pinned_to_another_commit_is_refused(sigstore_built, cli):
    other = "0" * len(sigstore_built.commit)
    verdict = verify_sigstore(sigstore_built, "--source-repo", REPOSITORY, "--source-commit", other, cli=cli)
    refused_at(verdict, "source-commit", before=DIR_CHECKS)


# --- packseal lock add --------------------------------------------------------


def lock_add(built: SimpleNamespace, bundle: Path, lock: Path, *options: Any) -> subprocess.CompletedProcess:
    return run(
        built.repo.environment, "lock", "add", bundle, "--lock", lock, "--minisign-pubkey", built.keys.pub, *options
    )


@pytest.mark.parametrize("bundle", ["pack", "file"])
def test_lock_add_pins_what_verified_and_the_lock_then_verifies(built, tmp_path, cli, bundle: str):
    lock = tmp_path / "packseal.lock"
    path = getattr(built, bundle)

    result = lock_add(built, path, lock)

    assert result.returncode == 0, cli.describe(result)
    pins = LockFile.read(lock).pins[path.name]
    assert (pins.repository, pins.commit, pins.ref, pins.builder_id) == (ORIGIN, built.commit, REF, BUILDER)
    assert pins.digest == built.digests[bundle]
    verdict = verify_locked(built, path, lock, cli)
    assert verdict["verified"] is True and "source-ref" in names(verdict) and "builder" in names(verdict), verdict


def test_lock_add_of_a_bundle_that_does_not_verify_writes_nothing(built, tmp_path, cli, key_store):
    lock = tmp_path / "packseal.lock"
    other = key_store("other")
    result = run(built.repo.environment, "lock", "add", built.pack, "--lock", lock, "--minisign-pubkey", other.pub)
    assert result.returncode == 1, cli.describe(result)
    assert result.stdout.startswith("REFUSED") and not lock.exists(), cli.describe(result)


def test_lock_add_refuses_to_change_an_entry_unless_replace(built, tmp_path, cli):
    lock = write_lock(tmp_path, lock_entry("pack", built.parent, built.digests["pack"]))
    before = lock.read_bytes()

    refused = lock_add(built, built.pack, lock)
    assert_usage_error(refused, "[bundle.pack] already pins", cli)
    assert lock.read_bytes() == before

    replaced = lock_add(built, built.pack, lock, "--replace")
    assert replaced.returncode == 0, cli.describe(replaced)
    assert LockFile.read(lock).pins["pack"].commit == built.commit
    assert lock_add(built, built.pack, lock).returncode == 0  # the same pin again is no change
