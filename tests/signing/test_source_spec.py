"""Git source strings: only a full commit id over https pins; everything else is one line and exit 2."""

import pytest

from signing.errors import ExitStatus, SourceSpecError, exit_status
from signing.sources.spec import GitSource, is_git_source, parse_git_source

SHA1 = "0123456789abcdef0123456789abcdef01234567"
SHA256 = "0123456789abcdef" * 4


def test_a_pinned_source_and_its_parts() -> None:
    source = parse_git_source(f"git+https://git.example/acme/packs.git@{SHA1}#subdirectory=packs/acme-tools")
    assert source == GitSource("https://git.example/acme/packs.git", SHA1, "packs/acme-tools")
    assert source.name == "acme-tools"
    assert str(source) == f"git+https://git.example/acme/packs.git@{SHA1}#subdirectory=packs/acme-tools"


def test_sha256_commits_ports_and_the_repository_name() -> None:
    source = parse_git_source(f"git+https://git.example:8443/acme/tools@{SHA256}", ref="main")
    assert (source.url, source.commit, source.ref) == ("https://git.example:8443/acme/tools", SHA256, "main")
    assert source.name == "tools"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("git+https://git.example/acme/packs.git@main", r"'main' is not a full commit id"),
        ("git+https://git.example/acme/packs.git@v1.2.0", r"'v1.2.0' is not a full commit id"),
        (f"git+https://git.example/acme/packs.git@{SHA1[:12]}", r"is not a full commit id"),
        (f"git+https://git.example/acme/packs.git@{SHA1.upper()}", r"is not a full commit id"),
        ("git+https://git.example/acme/packs.git", r"not pinned"),
        (f"git+http://git.example/acme/packs.git@{SHA1}", r"only git\+https:// is fetched \(not http://\)"),
        (f"git+ssh://git@git.example/acme/packs.git@{SHA1}", r"only git\+https:// is fetched \(not ssh://\)"),
        (f"git+file:///srv/packs.git@{SHA1}", r"only git\+https:// is fetched \(not file://\)"),
        (f"git://git.example/acme/packs.git@{SHA1}", r"not a Git source"),
        (f"git+https://user:token@git.example/acme/packs.git@{SHA1}", r"credentials in the URL"),
        (f"git+https://git.example/acme/packs.git?x=1@{SHA1}", r"query string"),
        (f"git+https:///acme/packs.git@{SHA1}", r"no host"),
        (f"git+https://git.example/@{SHA1}", r"no repository path"),
        (f"git+https://git.example/acme/packs.git@{SHA1}#egg=x", r"only fragment understood"),
        (f"git+https://git.example/acme/packs.git@{SHA1}#subdirectory=../up", r"subdirectory '\.\./up'"),
        (f"git+https://git.example/acme/packs.git@{SHA1}#subdirectory=/abs", r"subdirectory '/abs': absolute"),
        (f"git+https://git.example/acme/packs.git@{SHA1}#subdirectory=.packseal", r"subdirectory '\.packseal'"),
        (f"git+https://git.example/acme/pack s.git@{SHA1}", r"space, control character"),
        (f"git+https://git.example/acme/.git@{SHA1}", r"bundle name taken from the URL is unusable"),
    ],
)
def test_what_does_not_pin_or_is_unsafe_is_refused_in_one_line(text: str, message: str) -> None:
    with pytest.raises(SourceSpecError, match=message) as excinfo:
        parse_git_source(text)
    assert "\n" not in str(excinfo.value)
    assert exit_status(excinfo.value) == ExitStatus.ASKED_WRONGLY


@pytest.mark.parametrize("ref", ["", "-x", "a..b", "main.lock", "refs/heads/", "a b", "x^{}", "@{-1}", "a\\b"])
def test_a_malformed_ref_is_refused(ref: str) -> None:
    with pytest.raises(SourceSpecError, match=r"is not a valid branch or tag name"):
        parse_git_source(f"git+https://git.example/acme/packs.git@{SHA1}", ref=ref)


def test_what_counts_as_a_git_source() -> None:
    assert is_git_source(f"git+https://git.example/a@{SHA1}")
    assert is_git_source("git+ssh://x")
    assert not is_git_source("https://git.example/pack.tar.gz")
    assert not is_git_source("./git+local")
