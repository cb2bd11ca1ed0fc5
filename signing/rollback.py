"""Rollback protection: an install never goes below the highest version of a bundle ever installed there.

An old release with a known hole is still validly signed: signature checks
alone would let anyone who can offer it to an installer (a mirror, a stale
cache, a compromised download location) install it over the fixed one. Its
signed version is what gives it away (`sign --bundle-version`, read back as
`Verdict.version`).

Each install directory keeps, per bundle name, the highest version ever
installed and the digest it had, in the bundle's install record, which
lands atomically with the bundle. As in TUF and cosign, it is a high-water
mark, not the version installed now: an allowed downgrade
(`allow_downgrade`) does not lower it, so the install after a downgrade is
checked against the highest version again, and needs the permission again
if it is still below it. The rules, under the publisher's versioning
(`signing.versions`):

- a version below the highest is refused;
- the same version (equal precedence: `1.0` and `1.0.0` under PEP 440) with
  another digest is refused: one version, two contents;
- an unversioned bundle, once a versioned one was installed, is refused;
- a version the publisher's scheme cannot parse is refused: it has no place
  in the order, so it is never compared as text, and never becomes the highest.

Reinstalling the highest version with its digest is allowed. Each refusal
is one line naming both versions, and `allow_downgrade` turns each into an
install that is marked as a downgrade in its record and audit event.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from signing.errors import BundleError
from signing.policy import CheckName
from signing.verify import Check
from signing.versions import Scheme, precedence


@dataclass(frozen=True)
class HighestInstalled:
    """The highest version of a bundle ever installed in an install directory, with the digest it had."""

    version: str
    digest: str

    def to_json(self) -> dict[str, str]:
        return {"version": self.version, "digest": self.digest}

    @classmethod
    def from_json(cls, value: Any) -> "HighestInstalled | None":
        """Read it from an install record; None is none; anything else raises `ValueError`."""
        if value is None:
            return None
        if not isinstance(value, Mapping) or set(value) != {"version", "digest"}:
            raise ValueError("'highest' must be null or an object with exactly a version and a digest")
        if not all(isinstance(value[key], str) for key in ("version", "digest")):
            raise ValueError("'highest' version and digest must be strings")
        return cls(value["version"], value["digest"])


@dataclass(frozen=True)
class RollbackDecision:
    """What rollback protection decided for one install.

    `check` is the `rollback` check added to the install's verdict (failed:
    the install is refused); `highest` is what the new install record keeps;
    `downgrade` is the refusal that `allow_downgrade` overrode, if one did.
    """

    check: Check
    highest: HighestInstalled | None
    downgrade: str | None = None


def check_rollback(
    version: str | None,
    digest: str,
    highest: HighestInstalled | None,
    scheme: Scheme,
    *,
    allow_downgrade: bool = False,
) -> RollbackDecision:
    """Decide whether a verified bundle of `version` and `digest` may replace what `highest` records."""
    data = {"version": version, "highest": None if highest is None else highest.version, "versioning": scheme.value}
    refusal = _refusal(version, digest, highest, scheme)
    kept = _highest_after(version, digest, highest, scheme)
    name = CheckName.ROLLBACK.value
    if refusal is None:
        return RollbackDecision(Check(name, True, _accepted(version, highest, scheme), data), kept)
    if allow_downgrade:
        return RollbackDecision(
            Check(name, True, f"DOWNGRADE allowed by --allow-downgrade: {refusal}", data), kept, refusal
        )
    return RollbackDecision(Check(name, False, f"{refusal}; --allow-downgrade permits it", data), highest)


def _refusal(version: str | None, digest: str, highest: HighestInstalled | None, scheme: Scheme) -> str | None:
    """Why rollback protection refuses this install, in one line naming both versions; None if it does not."""
    try:
        order = None if version is None else precedence(version, scheme)
    except BundleError as err:
        return f"{err}, the publisher's versioning: it has no place in the order of versions"
    if highest is None:
        return None
    installed = f"{highest.version!r}, the highest version installed here ({highest.digest})"
    if version is None:
        return f"the bundle is unversioned, but {installed} is versioned: an unversioned bundle cannot replace it"
    highest_order = _order(highest.version, scheme)
    if highest_order is None:
        return (
            f"version {version!r} cannot be ordered against {installed}, "
            f"which is not a {scheme.spec_name} version, the publisher's versioning now"
        )
    if order < highest_order:
        return f"version {version!r} is older than {installed}: a rollback"
    if order == highest_order and digest != highest.digest:
        return f"version {version!r} is the same version as {installed}, but its digest is {digest}: two contents"
    return None


def _highest_after(
    version: str | None, digest: str, highest: HighestInstalled | None, scheme: Scheme
) -> HighestInstalled | None:
    """The high-water mark after installing `version`: raised by a newer one, never lowered.

    An equal version replaces it only when allowed with another digest: the
    installer then chose that content for that version. A version that
    cannot be ordered never becomes the mark; a mark that can no longer be
    ordered (the publisher changed its versioning) gives way to one that can.
    """
    order = _order(version, scheme)
    if version is None or order is None:
        return highest
    highest_order = None if highest is None else _order(highest.version, scheme)
    if highest_order is None or order >= highest_order:
        return HighestInstalled(version, digest)
    return highest


def _accepted(version: str | None, highest: HighestInstalled | None, scheme: Scheme) -> str:
    if version is None:
        return "unversioned bundle, and no versioned one was installed here: nothing to roll back"
    if highest is None:
        return f"version {version!r}, the first versioned install here"
    if _order(version, scheme) == _order(highest.version, scheme):
        return f"version {version!r} with the digest installed before: a reinstall"
    return f"version {version!r} is newer than {highest.version!r}, the highest version installed here"


def _order(version: str | None, scheme: Scheme) -> Any:
    if version is None:
        return None
    try:
        return precedence(version, scheme)
    except BundleError:
        return None
