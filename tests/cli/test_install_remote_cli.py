"""`packseal install` from a Git commit and a release URL: the summary names where from, refusals are one line."""

import tarfile

import json_output
import pytest
from git_http import serve_git
from https_server import Response, https_server
from trees import snapshot

pytestmark = pytest.mark.slow


def policy_file(tmp_path, key, bundles: str = '"pack"') -> str:
    path = tmp_path / "trust.toml"
    path.write_text(f'[[publisher]]\nname = "acme"\nbundles = [{bundles}]\nminisign_keys = ["{key.pub}"]\n')
    return str(path)


def test_install_from_a_pinned_commit_names_url_and_commit(tmp_path, pack, key_store, run_packseal, monkeypatch):
    key = key_store("trusted")
    env = {"PACKSEAL_HOME": str(tmp_path / "packseal-home")}
    dest = tmp_path / "plugins"
    dest.mkdir()
    with serve_git(tmp_path, monkeypatch) as served:
        repo = served.repo()
        pack.rename(repo.top / "pack")
        assert run_packseal("sign", repo.top / "pack", "--minisign-key", key.key).returncode == 0
        commit = repo.commit("signed pack")
        url = served.publish(repo)
        source = f"git+{url}@{commit}#subdirectory=pack"

        result = run_packseal("install", source, dest, "--policy", policy_file(tmp_path, key), "--ref", "main", env=env)
        short = run_packseal("install", f"git+{url}@{commit[:12]}", dest, "--policy", policy_file(tmp_path, key))
        elsewhere = run_packseal(
            "install", tmp_path / "x", dest, "--ref", "main", "--policy", policy_file(tmp_path, key)
        )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"VERIFIED pack from {source}"
    assert f"  fetched    {url} at commit {commit} (ref main points at it), subdirectory pack" in lines
    assert snapshot(dest / "pack") == snapshot(repo.top / "pack")
    assert short.returncode == 2 and "is not a full commit id" in short.stderr
    assert elsewhere.returncode == 2 and "a ref is checked only for a git+https:// source" in elsewhere.stderr


def test_install_from_a_release_url(tmp_path, pack, key_store, run_packseal, monkeypatch):
    key = key_store("trusted")
    env = {"PACKSEAL_HOME": str(tmp_path / "packseal-home")}
    assert run_packseal("sign", pack, "--minisign-key", key.key).returncode == 0
    archive = tmp_path / "pack-1.2.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(pack, arcname="pack")
    assert run_packseal("sign", archive, "--minisign-key", key.key).returncode == 0
    dest = tmp_path / "plugins"
    dest.mkdir()
    policy = policy_file(tmp_path, key, '"pack", "pack-*.tar.gz"')
    with https_server(tmp_path) as server:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_file))
        server.route("/r/pack-1.2.0.tar.gz", Response(body=archive.read_bytes()))
        signature = tmp_path / f"{archive.name}.minisig"
        server.route("/r/pack-1.2.0.tar.gz.minisig", Response(body=signature.read_bytes()))
        url = server.url("/r/pack-1.2.0.tar.gz")

        capped = run_packseal("install", url, dest, "--policy", policy, "--max-size", "100", env=env)
        after_refusal = sorted(path.name for path in dest.iterdir())
        result = run_packseal("install", url, dest, "--policy", policy, "--json", env=env)

    assert capped.returncode == 1
    size = archive.stat().st_size
    assert capped.stderr.strip() == f"packseal: error: {url}: {size} bytes, over the size cap of 100 bytes; refused"
    assert after_refusal == []
    assert result.returncode == 0, result.stderr
    document = json_output.parse(result.stdout)
    assert document["origin"]["kind"] == "url" and document["origin"]["url"] == url
    assert document["origin"]["archive"]["name"] == "pack-1.2.0.tar.gz"
    assert snapshot(dest / "pack") == snapshot(pack)
    plain = run_packseal("install", url.replace("https://", "http://"), dest, "--policy", policy)
    assert plain.returncode == 2 and "only https:// URLs are downloaded" in plain.stderr
