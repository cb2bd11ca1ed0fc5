"""Downloading a release over HTTPS: against a real TLS server on 127.0.0.1 whose CA is made in the test.

Each hostile or broken answer the issue names (404 on the signature, a cut
body, a body over the cap, a redirect to plain HTTP, a stall, another CA, an
environment asking to skip TLS checks, an artifact swapped between requests)
is served for real, and the download must refuse it, leaving nothing behind.
"""

import hashlib
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest
from connect_proxy import use_proxy
from https_server import LocalCA, Response, https_server

from signing.errors import ExitStatus, OutputError, SourceError, SourceSpecError, TrustPolicyError, exit_status
from signing.sign import sign_with_minisign
from signing.sources.url import Download, HttpLimits, download_release, release_name
from signing.verify import verify_bundle

FAST = HttpLimits(connect_timeout=2.0, read_timeout=0.5, retry_delays=(0.01, 0.02), max_redirects=3)
"""Three attempts, short waits: the schedule is a parameter so that tests of give-up take milliseconds."""
ATTEMPTS = len(FAST.retry_delays) + 1
MIB = 1024 * 1024
SIDECARS = (
    "pack.tar.gz.minisig",
    "pack.tar.gz.provenance.json",
    "pack.tar.gz.provenance.json.minisig",
    "pack.tar.gz.provenance.sigstore.json",
    "pack.tar.gz.sigstore.json",
)


@pytest.fixture
def into(tmp_path) -> Path:
    staging = tmp_path / "staging"
    staging.mkdir()
    return staging


@pytest.fixture
def release(tmp_path, key_pair) -> tuple[bytes, bytes]:
    """An artifact and its minisign signature, as `sign` writes them for a single file."""
    artifact = tmp_path / "made" / "pack.tar.gz"
    artifact.parent.mkdir()
    artifact.write_bytes(os.urandom(300_000))
    sign_with_minisign(artifact, key_pair.secret_key)
    return artifact.read_bytes(), artifact.with_name("pack.tar.gz.minisig").read_bytes()


def _download(server, into: Path, path: str = "/releases/pack.tar.gz", **options) -> Download:
    return download_release(server.url(path), into, limits=FAST, **options)


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def advance(self, files: int, bytes: int) -> None:
        self.calls.append((files, bytes))


def test_downloads_the_artifact_and_the_signatures_beside_it(server, into, release, policy):
    data, minisig = release
    server.route("/releases/pack.tar.gz", Response(body=data, chunked=True))
    server.route("/releases/pack.tar.gz.minisig", Response(body=minisig))
    progress = _Recorder()

    download = _download(server, into, progress=progress)

    assert download.artifact == into / "pack.tar.gz"
    assert download.artifact.read_bytes() == data
    assert download.signatures == (into / "pack.tar.gz.minisig",)
    assert download.signatures[0].read_bytes() == minisig
    assert download.digest.sha256 == hashlib.sha256(data).hexdigest() and download.digest.size == len(data)
    assert download.absent == tuple(name for name in SIDECARS if name != "pack.tar.gz.minisig")
    assert sorted(p.name for p in into.iterdir()) == ["pack.tar.gz", "pack.tar.gz.minisig"]
    assert {files for files, _ in progress.calls} == {0}
    assert sum(count for _, count in progress.calls) == len(data) + len(minisig)
    assert all(server.requests(f"/releases/{name}") == 1 for name in ("pack.tar.gz", *SIDECARS))
    assert verify_bundle(download.artifact, policy).verified


def test_a_missing_signature_is_recorded_absent_and_the_verifier_names_it(server, into, release, policy):
    server.route("/releases/pack.tar.gz", Response(body=release[0]))

    download = _download(server, into)

    assert download.signatures == () and download.absent == SIDECARS
    verdict = verify_bundle(download.artifact, policy)
    assert not verdict.verified
    assert verdict.refusal is not None and "pack.tar.gz.minisig" in verdict.refusal.detail


def test_names_come_from_the_percent_decoded_last_segment(server, into):
    server.route("/r/pack%201.bin", Response(body=b"one"))
    server.route("/r/pack%201.bin.minisig", Response(body=b"sig"))

    download = _download(server, into, "/r/pack%201.bin")

    assert download.artifact == into / "pack 1.bin"
    assert download.signatures == (into / "pack 1.bin.minisig",)


def test_a_404_on_the_artifact_is_an_error_naming_the_url(server, into):
    with pytest.raises(SourceSpecError, match=r"pack\.tar\.gz: HTTP 404 Not Found") as raised:
        _download(server, into)
    assert exit_status(raised.value) is ExitStatus.ASKED_WRONGLY
    assert server.requests("/releases/pack.tar.gz") == 1
    assert server.requests("/releases/pack.tar.gz.minisig") == 0
    assert list(into.iterdir()) == []


@pytest.mark.parametrize("status", [403, 410, 401])
def test_other_client_errors_fail_at_once(server, into, status):
    server.route("/releases/pack.tar.gz", Response(status, body=b"no"))
    with pytest.raises(SourceError, match=f"HTTP {status}") as raised:
        _download(server, into)
    assert exit_status(raised.value) is ExitStatus.REFUSED
    assert server.requests("/releases/pack.tar.gz") == 1
    assert list(into.iterdir()) == []


def test_a_client_error_on_a_signature_is_an_error_too(server, into):
    server.route("/releases/pack.tar.gz", Response(body=b"artifact"))
    server.route("/releases/pack.tar.gz.provenance.json", Response(403))
    with pytest.raises(SourceError, match=r"pack\.tar\.gz\.provenance\.json: HTTP 403 Forbidden"):
        _download(server, into)
    assert list(into.iterdir()) == []


def test_server_errors_are_retried_then_succeed(server, into):
    server.route("/releases/pack.tar.gz", [Response(503), Response(500), Response(body=b"third time")])
    download = _download(server, into)
    assert download.artifact.read_bytes() == b"third time"
    assert server.requests("/releases/pack.tar.gz") == 3


@pytest.mark.parametrize(("status", "phrase"), [(500, "Internal Server Error"), (503, "Service Unavailable")])
def test_retries_are_bounded_then_the_download_gives_up(server, into, status, phrase):
    server.route("/releases/pack.tar.gz", Response(status))
    with pytest.raises(SourceError, match=rf"HTTP {status} {phrase} \(gave up after {ATTEMPTS} attempts\)"):
        _download(server, into)
    assert server.requests("/releases/pack.tar.gz") == ATTEMPTS
    assert list(into.iterdir()) == []


def test_a_failing_signature_download_removes_the_artifact_too(server, into):
    server.route("/releases/pack.tar.gz", Response(body=b"artifact"))
    server.route("/releases/pack.tar.gz.sigstore.json", Response(500))
    with pytest.raises(SourceError, match=r"pack\.tar\.gz\.sigstore\.json: HTTP 500"):
        _download(server, into)
    assert server.requests("/releases/pack.tar.gz.sigstore.json") == ATTEMPTS
    assert list(into.iterdir()) == []


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_truncated_body_is_refused(server, into, chunked):
    server.route("/releases/pack.tar.gz", Response(body=b"x" * 100_000, truncate_at=1000, chunked=chunked))
    with pytest.raises(SourceError, match=r"gave up after 3 attempts") as raised:
        _download(server, into)
    if not chunked:
        assert "after 1000 of 100000 bytes" in str(raised.value)
    assert server.requests("/releases/pack.tar.gz") == ATTEMPTS
    assert list(into.iterdir()) == []


@pytest.mark.parametrize(
    "answer",
    [
        Response(body=b"z" * (64 * 1024), repeat=1024),
        Response(body=b"z" * (64 * 1024), repeat=1024, length=None),
        Response(body=b"z" * (64 * 1024), repeat=1024, chunked=True),
    ],
    ids=["declared", "undeclared", "chunked"],
)
def test_a_body_over_the_cap_is_refused_without_reading_it_all(server, into, answer):
    """64 MiB served, 1 MiB allowed: the download stops near the cap (the server counts what it got out)."""
    server.route("/releases/pack.tar.gz", answer)
    with pytest.raises(SourceError, match="over the size cap") as raised:
        _download(server, into, max_size=MIB)
    assert exit_status(raised.value) is ExitStatus.REFUSED
    assert server.requests("/releases/pack.tar.gz") == 1
    assert server.bytes_sent("/releases/pack.tar.gz") < 24 * MIB
    assert list(into.iterdir()) == []


def test_a_body_at_the_cap_is_accepted(server, into):
    server.route("/releases/pack.tar.gz", Response(body=b"a" * 4096, length=None))
    assert _download(server, into, max_size=4096).digest.size == 4096


def test_a_signature_file_has_a_cap_of_its_own(server, into):
    server.route("/releases/pack.tar.gz", Response(body=b"artifact"))
    server.route("/releases/pack.tar.gz.minisig", Response(body=b"s" * MIB, repeat=64, length=None))
    with pytest.raises(SourceError, match=r"pack\.tar\.gz\.minisig: more than 16777216 bytes"):
        _download(server, into)
    assert server.bytes_sent("/releases/pack.tar.gz.minisig") < 40 * MIB
    assert list(into.iterdir()) == []


def test_redirects_to_https_are_followed(server, into):
    server.route("/latest/pack.tar.gz", Response.redirect("/store/abc", 301))
    server.route("/store/abc", Response.redirect(server.url("/store/def?signed=1", host="localhost"), 307))
    server.route("/store/def", Response(body=b"stored"))
    assert _download(server, into, "/latest/pack.tar.gz").artifact.read_bytes() == b"stored"
    assert (into / "pack.tar.gz").exists()


def test_a_redirect_to_plain_http_is_refused_naming_it(server, into):
    plain = f"http://127.0.0.1:{server.port}/releases/pack.tar.gz"
    server.route("/releases/pack.tar.gz", Response.redirect(plain))
    with pytest.raises(SourceError, match=f"redirects to {plain}, which is not https://; refused"):
        _download(server, into)
    assert server.requests("/releases/pack.tar.gz") == 1
    assert list(into.iterdir()) == []


def test_a_redirect_loop_is_refused(server, into):
    server.route("/releases/pack.tar.gz", Response.redirect("/b"))
    server.route("/b", Response.redirect("/releases/pack.tar.gz"))
    with pytest.raises(SourceError, match="redirect loop at"):
        _download(server, into)
    assert server.requests("/releases/pack.tar.gz") == 1 and server.requests("/b") == 1


def test_a_long_redirect_chain_is_refused(server, into):
    server.route("/releases/pack.tar.gz", Response.redirect("/hop/0"))
    for hop in range(10):
        server.route(f"/hop/{hop}", Response.redirect(f"/hop/{hop + 1}"))
    with pytest.raises(SourceError, match="more than 3 redirects"):
        _download(server, into)
    assert server.requests(f"/hop/{FAST.max_redirects}") == 0


@pytest.mark.parametrize(
    "answer",
    [Response(body=b"late", delay=30), Response(body=b"0123456789" * 10, stall_after=10, stall=30)],
    ids=["before-the-answer", "mid-body"],
)
def test_a_stalling_server_times_out(server, into, answer):
    server.route("/releases/pack.tar.gz", answer)
    start = time.monotonic()
    with pytest.raises(SourceError, match=r"nothing received for 0.5 s \(gave up after 3 attempts\)"):
        _download(server, into)
    assert time.monotonic() - start < 10
    assert server.requests("/releases/pack.tar.gz") == ATTEMPTS
    assert list(into.iterdir()) == []


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_server_trickling_bytes_is_cut_off_at_the_total_deadline(server, into, chunked):
    """One byte every 0.1 s is never silent for the read timeout, and 3,000 bytes would take 5 minutes.

    The read timeout alone would let such a server hold the installer, and
    the install directory's lock with it, for as long as it likes; the
    whole download has a deadline of its own, and passing it is not retried.
    """
    server.route("/releases/pack.tar.gz", Response(body=b"x", repeat=3000, trickle=0.1, chunked=chunked))
    start = time.monotonic()
    with pytest.raises(SourceError, match=r"the download took over 1 s; refused"):
        download_release(server.url("/releases/pack.tar.gz"), into, limits=replace(FAST, total_timeout=1.0))
    assert time.monotonic() - start < 5
    assert server.requests("/releases/pack.tar.gz") == 1
    assert list(into.iterdir()) == []


def test_a_server_whose_certificate_another_ca_signed_is_refused(server, into, tmp_path, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(LocalCA.create("other").write(tmp_path / "other.pem")))
    server.route("/releases/pack.tar.gz", Response(body=b"artifact"))
    with pytest.raises(SourceError, match="TLS: certificate verify failed: unable to get local issuer"):
        _download(server, into)
    assert server.requests("/releases/pack.tar.gz") == 0
    assert list(into.iterdir()) == []


@pytest.mark.parametrize(
    "environment",
    [
        {"REQUESTS_CA_BUNDLE": "", "CURL_CA_BUNDLE": ""},
        {"REQUESTS_CA_BUNDLE": "", "CURL_CA_BUNDLE": "", "PYTHONHTTPSVERIFY": "0"},
        {"CURL_CA_BUNDLE": ""},
    ],
    ids=["empty-bundles", "python-https-verify-0", "empty-curl-bundle"],
)
def test_no_environment_turns_tls_verification_off(server, into, monkeypatch, environment):
    """Empty CA variables are a common recipe for skipping verification; here they mean the default roots.

    The test CA is not among those roots, so the server must be refused.
    """
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    server.route("/releases/pack.tar.gz", Response(body=b"artifact"))
    with pytest.raises(SourceError, match="TLS: certificate verify failed"):
        _download(server, into)
    assert server.requests("/releases/pack.tar.gz") == 0


def test_curl_ca_bundle_is_honoured_when_requests_ca_bundle_is_unset(server, into, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.setenv("CURL_CA_BUNDLE", str(server.ca_file))
    server.route("/releases/pack.tar.gz", Response(body=b"artifact"))
    assert _download(server, into).artifact.read_bytes() == b"artifact"


def test_a_ca_bundle_that_does_not_exist_is_named(server, into, tmp_path, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "nowhere.pem"))
    with pytest.raises(TrustPolicyError, match=r"REQUESTS_CA_BUNDLE=.*nowhere\.pem: no such file") as raised:
        _download(server, into)
    assert exit_status(raised.value) is ExitStatus.ASKED_WRONGLY
    assert server.requests("/releases/pack.tar.gz") == 0


def test_the_directory_must_exist(server, tmp_path):
    with pytest.raises(OutputError, match="not a directory to download into"):
        _download(server, tmp_path / "missing")
    assert server.requests("/releases/pack.tar.gz") == 0


def test_a_closed_port_is_retried_then_named(tmp_path, into):
    with https_server(tmp_path) as stopped:
        url = stopped.url("/pack.tar.gz")
    with pytest.raises(SourceError, match="connection failed: Connection refused \\(gave up after 3 attempts\\)"):
        download_release(url, into, limits=FAST)


def test_a_proxy_that_is_not_http_is_refused_before_any_connection(server, into, monkeypatch):
    use_proxy(monkeypatch, "socks5://user:secret@127.0.0.1:1080")
    server.route("/releases/pack.tar.gz", Response(body=b"artifact"))

    with pytest.raises(
        SourceError, match=r"the proxy socks5://127\.0\.0\.1:1080 .* is not an http\(s\):// proxy"
    ) as raised:
        _download(server, into)

    assert "secret" not in str(raised.value)
    assert server.requests("/releases/pack.tar.gz") == 0


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://example.com/pack.tar.gz", "only https:// URLs are downloaded, http:// is refused"),
        ("HTTP://example.com/pack.tar.gz", "only https:// URLs are downloaded, http:// is refused"),
        ("file:///etc/passwd", "file:// is refused"),
        ("example.com/pack.tar.gz", "a URL without a scheme is refused"),
        ("https:///pack.tar.gz", "no host"),
        ("https://example.com:99999/pack.tar.gz", "not a URL: Port out of range"),
        ("https://[::1/pack.tar.gz", "not a URL: Invalid IPv6 URL"),
        ("https://user:secret@example.com/pack.tar.gz", "credentials in the URL are refused"),
        ("https://example.com/pack.tar.gz?token=1", "a query or fragment is refused"),
        ("https://example.com/pack.tar.gz#x", "a query or fragment is refused"),
        ("https://example.com/releases/", "no safe file name: empty path"),
        ("https://example.com/releases/..", "no safe file name"),
        ("https://example.com/releases/%2e%2e", "no safe file name"),
        ("https://example.com/releases/a%2Fb", "no safe file name: 'a/b': '/' in a file name"),
        ("https://example.com/releases/a%5Cb", "no safe file name: .*backslash"),
        ("https://example.com/releases/a%00b", "no safe file name: .*control character"),
        ("https://example.com/releases/a%1bb", "no safe file name: .*control character"),
        ("https://example.com/releases/%ff", "no safe file name: not UTF-8"),
        ("https://example.com/releases/.packseal", "no safe file name"),
        ("https://example.com/releases/nul.tar.gz", "no safe file name: .*Windows device name"),
    ],
)
def test_urls_that_cannot_be_used_are_usage_errors(into, url, reason):
    with pytest.raises(SourceSpecError, match=reason) as raised:
        download_release(url, into, limits=FAST)
    assert str(raised.value).startswith(url)
    assert "\n" not in str(raised.value)
    assert exit_status(raised.value) is ExitStatus.ASKED_WRONGLY
    assert list(into.iterdir()) == []


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:9/releases/pack\ttar.gz",
        "https://127.0.0.1:9/a\r\nX-Evil: 1/pack.tar.gz",
        "https://127.0.0.1:9/a b/pack.tar.gz",
        "https://127.0.0.1:9/a\\b/pack.tar.gz",
    ],
    ids=["tab", "crlf", "space", "backslash"],
)
def test_whitespace_or_a_control_character_in_the_url_is_a_usage_error_before_any_request(into, url):
    """`urlsplit` drops tabs and newlines where the request keeps them: the name, the signature URLs and
    the record would each describe another URL than the one fetched."""
    with pytest.raises(SourceSpecError, match="space, control character or backslash in the URL") as raised:
        download_release(url, into, limits=FAST)
    assert "\n" not in str(raised.value) and "\r" not in str(raised.value) and "\t" not in str(raised.value)
    assert list(into.iterdir()) == []


def test_release_name_keeps_the_segment_as_written_for_the_signature_urls():
    assert release_name("https://h/a/pack%2B1.tgz") == ("pack+1.tgz", "pack%2B1.tgz")


def test_a_file_already_in_the_directory_is_not_overwritten(server, into):
    (into / "pack.tar.gz").write_bytes(b"mine")
    server.route("/releases/pack.tar.gz", Response(body=b"theirs"))
    with pytest.raises(OutputError, match=r"pack\.tar\.gz: cannot write: File exists"):
        _download(server, into)
    assert (into / "pack.tar.gz").read_bytes() == b"mine"


def test_a_swapped_artifact_cannot_pass_as_signed(server, into, release, policy):
    """The server sends unsigned bytes first and the signed ones on any later request.

    A downloader that fetched the artifact twice (one copy to verify, one to
    install; or a HEAD/GET to check, then the real GET) would verify the
    signed copy and install the other. Here each file is fetched once and
    the verifier reads exactly those bytes, so the swap is refused.
    """
    data, minisig = release
    evil = b"unsigned" + data[8:]
    server.route("/releases/pack.tar.gz", [Response(body=evil), Response(body=data)])
    server.route("/releases/pack.tar.gz.minisig", Response(body=minisig))

    download = _download(server, into)

    assert server.requests("/releases/pack.tar.gz") == 1
    assert download.artifact.read_bytes() == evil
    assert download.digest.sha256 == hashlib.sha256(evil).hexdigest()
    verdict = verify_bundle(download.artifact, policy)
    assert not verdict.verified and verdict.refusal is not None and verdict.refusal.name == "signature"


def test_a_swap_after_the_download_changes_nothing(server, into, release, policy):
    """Signed bytes first, other bytes afterwards: what was downloaded and verified is the signed artifact."""
    data, minisig = release
    server.route("/releases/pack.tar.gz", [Response(body=data), Response(body=b"evil")])
    server.route("/releases/pack.tar.gz.minisig", Response(body=minisig))

    download = _download(server, into)

    assert server.requests("/releases/pack.tar.gz") == 1
    assert download.digest.sha256 == hashlib.sha256(data).hexdigest()
    verdict = verify_bundle(download.artifact, policy)
    assert verdict.verified and verdict.digest == f"sha256:{download.digest.sha256}"


@pytest.mark.parametrize(
    "proxy", ["http://user:secret@127.0.0.1:99999", "http://user:secret@", "http://user:secret@[::1"]
)
def test_a_proxy_url_that_does_not_parse_is_refused_without_its_credentials(server, into, monkeypatch, proxy):
    use_proxy(monkeypatch, proxy)
    server.route("/releases/pack.tar.gz", Response(body=b"artifact"))

    with pytest.raises(SourceError, match=r"the proxy the environment names for it is not a URL") as raised:
        _download(server, into)

    assert "secret" not in str(raised.value)
    assert server.requests("/releases/pack.tar.gz") == 0
