"""`install https://host/path/pack-1.2.0.tar.gz`: against a real HTTPS server on 127.0.0.1 whose CA is made in the test.

A release is an archive holding a signed pack, signed itself as a file
(`pack-1.2.0.tar.gz.minisig` beside it), or a single signed file. Every
refusal the issue names is served for real, after a first install, and
must leave DEST byte for byte as it was. An archive signed as a file is
verified before the archive reader sees it, for a download as for a local
archive: a hostile archive under a bad signature is refused at the
signature, never reaching extraction.
"""

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from connect_proxy import connect_proxy, use_proxy
from https_server import Response
from installs import NEW_PACK, OLD_PACK, signed_pack
from trees import snapshot

from signing.errors import ArchiveError, ExitStatus, InstallRefused, SourceError, SourceSpecError, exit_status
from signing.installer import install
from signing.sign import sign_with_minisign
from signing.sources.fetch import RemoteOptions
from signing.sources.url import HttpLimits
from signing.trustfile import TrustFile

pytestmark = pytest.mark.usefixtures("packseal_home")  # no install here writes to the real HOME

FAST = RemoteOptions(http=HttpLimits(connect_timeout=2.0, read_timeout=0.5, retry_delays=(0.01, 0.02)))
RELEASE = "/releases/pack-1.2.0.tar.gz"


@pytest.fixture
def dest(tmp_path, key_pair, policy) -> Path:
    """An install directory that already holds pack v1, so that a refusal has something to leave unchanged."""
    path = tmp_path / "plugins"
    path.mkdir()
    install(signed_pack(tmp_path / "v1" / "pack", OLD_PACK, key_pair), path, policy)
    return path


def release(tmp_path: Path, key_pair, *, spec: dict = NEW_PACK, name: str = "pack-1.2.0.tar.gz") -> Path:
    """A .tar.gz of a signed pack, signed as a file too (its `.minisig` beside it)."""
    pack = signed_pack(tmp_path / "build" / name / "pack", spec, key_pair)
    archive = tmp_path / "build" / name / name
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(pack, arcname="pack")
    sign_with_minisign(archive, key_pair.secret_key)
    return archive


def serve(server, archive: Path, path: str = RELEASE, *, signed: bool = True) -> str:
    server.route(path, Response(body=archive.read_bytes()))
    if signed:
        server.route(path + ".minisig", Response(body=archive.with_name(archive.name + ".minisig").read_bytes()))
    return server.url(path)


def hostile_archive(path: Path) -> Path:
    """An archive the reader refuses (a member escaping with `..`): reaching the reader shows as ArchiveError."""
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("pack/../../escaped.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    return path


def test_a_signed_release_installs_with_its_url_and_archive_digest_recorded(server, tmp_path, dest, key_pair, policy):
    archive = release(tmp_path, key_pair)
    url = serve(server, archive)

    installed = install(url, dest, policy, remote=FAST)

    assert snapshot(dest / "pack") == snapshot(tmp_path / "build" / archive.name / "pack")
    assert (installed.origin.kind, installed.origin.source) == ("url", url)
    assert installed.origin.archive is not None
    assert installed.origin.archive["digest"] == f"sha256:{hashlib.sha256(archive.read_bytes()).hexdigest()}"
    record = json.loads(installed.record.read_text())
    assert record["source"] == url and record["origin"]["archive"]["name"] == "pack-1.2.0.tar.gz"
    assert server.requests(RELEASE) == 1


def test_a_policy_file_verifies_the_archive_under_the_publisher_its_name_matches(server, tmp_path, key_pair):
    (tmp_path / "acme.pub").write_text(f"untrusted comment: acme\n{key_pair.public_key.to_base64().decode()}\n")
    (tmp_path / "trust.toml").write_text(
        '[[publisher]]\nname = "acme"\nbundles = ["pack"]\nminisign_keys = ["acme.pub"]\n'
    )
    url = serve(server, release(tmp_path, key_pair))
    dest = tmp_path / "plugins"
    dest.mkdir()

    with pytest.raises(
        InstallRefused, match="signed as a file and must verify before it is opened; refused at publisher"
    ):
        install(url, dest, TrustFile.load(tmp_path / "trust.toml"), remote=FAST)
    assert list(dest.iterdir()) == []

    (tmp_path / "trust.toml").write_text(
        '[[publisher]]\nname = "acme"\nbundles = ["pack", "pack-*.tar.gz"]\nminisign_keys = ["acme.pub"]\n'
    )
    installed = install(url, dest, TrustFile.load(tmp_path / "trust.toml"), remote=FAST)
    assert installed.publisher == "acme" and installed.origin.archive["publisher"] == "acme"


def test_without_signatures_for_the_archive_the_inner_bundle_decides(server, tmp_path, dest, key_pair, policy):
    url = serve(server, release(tmp_path, key_pair), signed=False)

    installed = install(url, dest, policy, remote=FAST)

    assert installed.origin.archive is None and installed.verdict.verified


def test_a_404_on_the_signature_the_policy_requires_is_refused_naming_it(server, tmp_path, dest, policy):
    server.route("/releases/tool-1.0.bin", Response(body=b"\x7fELF tool"))
    before = snapshot(dest)

    with pytest.raises(InstallRefused, match=r"at signature: .*tool-1\.0\.bin\.minisig"):
        install(server.url("/releases/tool-1.0.bin"), dest, policy, remote=FAST)

    assert server.requests("/releases/tool-1.0.bin.minisig") == 1
    assert snapshot(dest) == before


def test_a_release_archive_under_a_bad_signature_is_refused_before_it_is_opened(
    server, tmp_path, dest, key_pair, other_key_pair, policy
):
    archive = hostile_archive(tmp_path / "pack-1.2.0.tar.gz")
    sign_with_minisign(archive, other_key_pair.secret_key)
    url = serve(server, archive)
    before = snapshot(dest)

    with pytest.raises(InstallRefused, match="must verify before it is opened; refused at signature"):
        install(url, dest, policy, remote=FAST)
    assert snapshot(dest) == before

    server.route(RELEASE + ".minisig", Response(404))
    with pytest.raises(ArchiveError, match=r"'\.\.'"):
        install(url, dest, policy, remote=FAST)
    assert snapshot(dest) == before


def test_a_local_archive_with_a_signature_beside_it_is_verified_before_it_is_opened(
    tmp_path, dest, other_key_pair, policy
):
    archive = hostile_archive(tmp_path / "pack-1.2.0.tar.gz")
    before = snapshot(dest)
    with pytest.raises(ArchiveError):
        install(archive, dest, policy)

    sign_with_minisign(archive, other_key_pair.secret_key)
    with pytest.raises(InstallRefused, match="must verify before it is opened; refused at signature"):
        install(archive, dest, policy)
    assert snapshot(dest) == before


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_truncated_body_is_refused(server, tmp_path, dest, key_pair, policy, chunked):
    data = release(tmp_path, key_pair).read_bytes()
    server.route(RELEASE, Response(body=data, truncate_at=len(data) // 2, chunked=chunked))
    before = snapshot(dest)

    with pytest.raises(SourceError, match="gave up after 3 attempts"):
        install(server.url(RELEASE), dest, policy, remote=FAST)

    assert snapshot(dest) == before


def test_a_body_over_the_cap_is_refused(server, tmp_path, dest, key_pair, policy):
    url = serve(server, release(tmp_path, key_pair))
    before = snapshot(dest)

    with pytest.raises(SourceError, match="over the size cap"):
        install(url, dest, policy, remote=RemoteOptions(max_size=100, http=FAST.http))

    assert snapshot(dest) == before


def test_a_redirect_to_plain_http_is_refused(server, tmp_path, dest, policy):
    server.route(RELEASE, Response.redirect(f"http://127.0.0.1:{server.port}{RELEASE}"))
    before = snapshot(dest)

    with pytest.raises(SourceError, match="which is not https://; refused"):
        install(server.url(RELEASE), dest, policy, remote=FAST)

    assert snapshot(dest) == before


def test_a_different_artifact_on_the_second_request_cannot_land(server, tmp_path, dest, key_pair, policy):
    """The artifact is fetched once and its bytes verified; the next request's answer is a new install, refused."""
    good = release(tmp_path, key_pair)
    evil = release(tmp_path / "evil", key_pair, spec={**NEW_PACK, "bin/run": (b"#!/bin/sh\nrm -rf ~\n", 0o755)})
    evil_bytes = evil.read_bytes()
    server.route(RELEASE, [Response(body=good.read_bytes()), Response(body=evil_bytes)])
    server.route(RELEASE + ".minisig", Response(body=good.with_name(good.name + ".minisig").read_bytes()))

    install(server.url(RELEASE), dest, policy, remote=FAST)
    assert (dest / "pack" / "bin" / "run").read_bytes() == b"#!/bin/sh\necho v2\n"
    assert server.requests(RELEASE) == 1
    before = snapshot(dest)

    with pytest.raises(InstallRefused, match="at signature"):
        install(server.url(RELEASE), dest, policy, remote=FAST)
    assert server.requests(RELEASE) == 2 and snapshot(dest) == before


def test_the_download_goes_through_the_proxy_the_environment_names(
    server, tmp_path, dest, key_pair, policy, monkeypatch
):
    archive = release(tmp_path, key_pair)
    url = serve(server, archive)

    with connect_proxy() as proxy:
        use_proxy(monkeypatch, proxy.url)
        install(url, dest, policy, remote=FAST)

    assert snapshot(dest / "pack") == snapshot(tmp_path / "build" / archive.name / "pack")
    assert proxy.targets and set(proxy.targets) == {f"127.0.0.1:{server.port}"}


def test_a_host_no_proxy_names_is_downloaded_from_directly(server, tmp_path, dest, key_pair, policy, monkeypatch):
    archive = release(tmp_path, key_pair)
    url = serve(server, archive)

    with connect_proxy() as proxy:
        use_proxy(monkeypatch, proxy.url, no_proxy="127.0.0.1")
        install(url, dest, policy, remote=FAST)

    assert snapshot(dest / "pack") == snapshot(tmp_path / "build" / archive.name / "pack")
    assert proxy.targets == []


def test_a_proxy_that_refuses_connections_is_a_one_line_refusal_and_dest_unchanged(
    server, tmp_path, dest, key_pair, policy, monkeypatch
):
    url = serve(server, release(tmp_path, key_pair))
    with connect_proxy() as stopped:
        use_proxy(monkeypatch, stopped.url)
    before = snapshot(dest)

    with pytest.raises(SourceError) as refused:
        install(url, dest, policy, remote=FAST)

    assert str(refused.value) == f"{url}: connection failed: Connection refused (gave up after 3 attempts)"
    assert exit_status(refused.value) is ExitStatus.REFUSED
    assert server.requests(RELEASE) == 0
    assert snapshot(dest) == before


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/pack.tar.gz", "https://user:pw@example.invalid/pack.tar.gz"])
def test_a_url_that_cannot_be_used_is_refused_before_anything_is_written(tmp_path, url, policy):
    dest = tmp_path / "plugins"
    dest.mkdir()
    with pytest.raises(SourceSpecError):
        install(url, dest, policy)
    assert list(dest.iterdir()) == []
