"""A repository pin is satisfied only by the same forge repository, named over a network scheme.

https, http, ssh, git and scp-like `host:owner/name` spellings name the same
repository on a forge; any other scheme (`file://` above all, whose "host"
is just a path segment) is refused, and so is a query string or a fragment,
which a pin comparison would otherwise drop silently.
"""

import pytest

from attest.errors import ProvenanceError
from attest.provenance import normalise_repository

PINNED = "https://github.com/acme/pack"


@pytest.mark.parametrize(
    "url",
    [
        "file://github.com/acme/pack",
        "file:///github.com/acme/pack",
        "git+file://github.com/acme/pack",
        "ftp://github.com/acme/pack",
        "javascript://github.com/acme/pack",
        "https://github.com/acme/pack?ref=main",
        "https://github.com/acme/pack?",
        "https://github.com/acme/pack#readme",
        "git+https://github.com/acme/pack#egg=pack",
        "github.com/acme/pack?x=1",
        "git@github.com:acme/pack?x=1",
    ],
)
def test_another_scheme_a_query_or_a_fragment_is_refused(url: str) -> None:
    with pytest.raises(ProvenanceError, match="is not a repository URL"):
        normalise_repository(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com:99999/acme/pack",
        "https://github.com:-1/acme/pack",
        "https://github.com:abc/acme/pack",
        "ssh://git@github.com:65536/acme/pack",
        "https://[::1/acme/pack",
    ],
)
def test_a_bad_port_or_host_is_a_clear_refusal(url: str) -> None:
    with pytest.raises(ProvenanceError, match=r"is not a repository URL \(.+\)"):
        normalise_repository(url)


def test_port_zero_is_not_dropped() -> None:
    assert normalise_repository("ssh://git@github.com:0/acme/pack") != normalise_repository(PINNED)


@pytest.mark.parametrize("url", ["github.com/acme/pa:ck", "https://github.com/acme/pa:ck", "git@github.com:acme/pa:ck"])
def test_a_colon_inside_the_path_stays_a_colon(url: str) -> None:
    assert normalise_repository(url) == "github.com/acme/pa:ck"
    assert normalise_repository(url) != normalise_repository("https://github.com/acme/pa/ck")


@pytest.mark.parametrize(
    "url",
    ["git://github.com/acme/pack", "ssh://github.com/acme/pack.git", "git@github.com:acme/pack", PINNED],
)
def test_network_schemes_name_the_same_forge_repository(url: str) -> None:
    assert normalise_repository(url) == normalise_repository(PINNED) == "github.com/acme/pack"
