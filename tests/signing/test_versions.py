"""Version order for rollback protection: PEP 440 as pip orders, SemVer 2.0.0 precedence as semver.org states."""

import pytest

from signing.errors import BundleError
from signing.versions import Scheme, precedence


@pytest.mark.parametrize(
    "ordered",
    [
        # semver.org section 11, the two example chains.
        ["1.0.0", "2.0.0", "2.1.0", "2.1.1"],
        ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
         "1.0.0-rc.1", "1.0.0"],
        ["1.9.0", "1.10.0", "1.11.0"],
    ],
)  # fmt: skip
def test_semver_precedence_is_the_specifications(ordered: list[str]) -> None:
    keys = [precedence(version, Scheme.SEMVER) for version in ordered]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


def test_semver_build_metadata_names_the_same_release() -> None:
    assert precedence("1.0.0+build.1", Scheme.SEMVER) == precedence("1.0.0+build.2", Scheme.SEMVER)


def test_pep440_orders_as_pip_does() -> None:
    ordered = ["1.0.dev1", "1.0a1", "1.0b2", "1.0rc1", "1.0", "1.0.post1", "1.1", "1.10"]
    keys = [precedence(version, Scheme.PEP440) for version in ordered]
    assert keys == sorted(keys)
    assert precedence("1.0", Scheme.PEP440) == precedence("1.0.0", Scheme.PEP440)


@pytest.mark.parametrize(
    ("version", "scheme"),
    [
        ("1.0", Scheme.SEMVER),
        ("01.0.0", Scheme.SEMVER),
        ("1.0.0-", Scheme.SEMVER),
        ("1.0.0-01", Scheme.SEMVER),
        ("v1.0.0 ", Scheme.SEMVER),
        ("latest", Scheme.PEP440),
        ("1.0\n", Scheme.SEMVER),
        ("", Scheme.PEP440),
    ],
)
def test_a_version_outside_its_scheme_is_refused_not_compared_as_text(version: str, scheme: Scheme) -> None:
    with pytest.raises(BundleError, match=scheme.name.replace("PEP440", "PEP 440").replace("SEMVER", "SemVer")):
        precedence(version, scheme)
