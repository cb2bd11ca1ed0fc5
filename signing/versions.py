"""Bundle versions and their order: what rollback protection compares.

A validly signed old release is still validly signed; only its version
tells an installer it is old. Versions compare as PEP 440 orders them (as
pip does, through `packaging`), or by SemVer 2.0.0 precedence where the
publisher's policy says `versioning = "semver"`. A version that does not
parse under its scheme has no place in the order, so it is refused, never
compared as text.
"""

import re
from enum import StrEnum
from typing import Any

from signing.errors import BundleError

_SEMVER = re.compile(
    r"(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<prerelease>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
"""The grammar of semver.org, section 2 onwards (its suggested regular expression)."""


class Scheme(StrEnum):
    """How a publisher numbers its releases."""

    PEP440 = "pep440"
    SEMVER = "semver"

    @property
    def spec_name(self) -> str:
        """The scheme as its specification names it, for messages."""
        return {"pep440": "PEP 440", "semver": "SemVer 2.0.0"}[self.value]


def precedence(version: str, scheme: Scheme) -> Any:
    """A key that orders versions of `scheme` as the scheme does; equal keys are the same release.

    Raises `BundleError` for a version the scheme cannot order.
    """
    if scheme is Scheme.SEMVER:
        return _semver_precedence(version)
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version)
    except InvalidVersion:
        raise BundleError(f"version {version!r} is not a PEP 440 version") from None


def _semver_precedence(version: str) -> tuple[Any, ...]:
    """SemVer 2.0.0 section 11: numbers numerically; a pre-release below its release; build metadata ignored."""
    match = _SEMVER.fullmatch(version)
    if match is None:
        raise BundleError(f"version {version!r} is not a SemVer 2.0.0 version")
    release = (int(match["major"]), int(match["minor"]), int(match["patch"]))
    if match["prerelease"] is None:
        return (*release, 1, ())
    identifiers = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in match["prerelease"].split(".")
    )
    return (*release, 0, identifiers)
