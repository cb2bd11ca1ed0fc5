"""Rollback protection through `signing.install`: a validly signed old version is refused, and DEST stays as it was.

Real minisign keys, real signed packs on disk, a real install directory and
audit log; the only thing each test varies is which versions are signed.
"""

import json
from pathlib import Path

import minisign
import pytest
from installs import NEW_PACK, OLD_PACK, write_tree
from trees import snapshot

from signing.errors import InstallRefused, OutputError
from signing.installer import install, read_installed
from signing.sign import sign_with_minisign
from signing.trustfile import TrustFile

pytestmark = pytest.mark.usefixtures("packseal_home")  # no install here writes to the real HOME

THIRD_PACK = {"README.md": b"# pack v3\n", "bin/run": (b"#!/bin/sh\necho v3\n", 0o755)}


@pytest.fixture
def release(tmp_path, key_pair):
    """`release(version, spec)`: the pack named `pack` with `spec`'s files, signed as `version` (None: unversioned)."""
    made = 0

    def make(version: str | None, spec: dict = OLD_PACK, pair: minisign.KeyPair = key_pair) -> Path:
        nonlocal made
        made += 1
        root = write_tree(tmp_path / "releases" / str(made) / "pack", spec)
        sign_with_minisign(root, pair.secret_key, trusted_comment="pack", version=version)
        return root

    return make


def semver_policy(directory: Path, key_pair: minisign.KeyPair, versioning: str = "semver") -> TrustFile:
    (directory / "acme.pub").write_bytes(bytes(key_pair.public_key) + b"\n")
    path = directory / "trust.toml"
    path.write_text(
        f'[[publisher]]\nname = "acme"\nbundles = ["pack"]\nminisign_keys = ["acme.pub"]\nversioning = "{versioning}"\n'
    )
    return TrustFile.load(path)


def audit_events(home: Path) -> list[dict]:
    log = home / "audit.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def record_of(dest: Path) -> dict:
    return json.loads((dest / ".packseal-installs" / "pack.json").read_text())


# --- what passes ---------------------------------------------------------------------------


def test_a_newer_version_replaces_the_installed_one_and_raises_the_highest(dest, release, policy, packseal_home):
    first = install(release("1.0.0"), dest, policy)
    second = install(release("1.1.0", NEW_PACK), dest, policy)

    assert (first.version, second.version) == ("1.0.0", "1.1.0")
    assert second.changes()["version"] == ("1.0.0", "1.1.0")
    assert record_of(dest)["version"] == "1.1.0"
    assert record_of(dest)["highest"] == {"version": "1.1.0", "digest": second.digest}
    assert second.verdict.checks[-1].name == "rollback" and "newer than '1.0.0'" in second.verdict.checks[-1].detail
    assert [event["action"] for event in audit_events(packseal_home)] == ["install", "install"]
    assert audit_events(packseal_home)[-1]["detail"]["version"] == "1.1.0"


def test_reinstalling_the_same_version_and_digest_is_allowed(dest, release, policy):
    install(release("1.0.0"), dest, policy)

    again = install(release("1.0.0"), dest, policy)

    assert again.downgrade is None and "a reinstall" in again.verdict.checks[-1].detail
    assert read_installed(dest, "pack").highest.version == "1.0.0"


def test_unversioned_bundles_install_where_no_versioned_one_was(dest, release, policy):
    install(release(None), dest, policy)
    installed = install(release(None, NEW_PACK), dest, policy)

    assert installed.version is None and installed.highest is None
    assert record_of(dest)["version"] is None and record_of(dest)["highest"] is None


# --- each refusal: one line naming both versions, DEST byte for byte unchanged -------------------------------

REFUSALS = {
    "older version": ("2.0.0", "1.0.0", r"version '1\.0\.0' is older than '2\.0\.0', the highest version installed"),
    "same version, other digest": (
        "1.0.0",
        "1.0.0",
        r"version '1\.0\.0' is the same version as '1\.0\.0', .* but its digest is sha256:[0-9a-f]{64}: two contents",
    ),
    "same precedence, other digest": ("1.0", "1.0.0", r"version '1\.0\.0' is the same version as '1\.0'"),
    "unversioned after versioned": (
        "1.0.0",
        None,
        r"the bundle is unversioned, but '1\.0\.0', the highest version installed here .* is versioned",
    ),
    "unparseable version": ("1.0.0", "latest", r"version 'latest' is not a PEP 440 version, the publisher's"),
}


@pytest.mark.parametrize(("installed", "offered", "message"), REFUSALS.values(), ids=list(REFUSALS))
def test_a_rollback_is_refused_and_dest_is_unchanged(dest, release, policy, packseal_home, installed, offered, message):
    install(release(installed), dest, policy)
    attempt = release(offered, NEW_PACK)
    before = snapshot(dest)

    with pytest.raises(InstallRefused, match=f"refused at rollback: {message}.*; --allow-downgrade permits it"):
        install(attempt, dest, policy)

    assert snapshot(dest) == before
    refused = audit_events(packseal_home)[-1]
    assert (refused["action"], refused["detail"]["check"]) == ("install-refused", "rollback")


def test_an_unparseable_version_is_refused_even_as_the_first_install(dest, release, policy):
    with pytest.raises(InstallRefused, match="version 'nightly' is not a PEP 440 version"):
        install(release("nightly"), dest, policy)

    assert list(dest.iterdir()) == []


def test_a_dry_run_reports_the_rollback_and_writes_nothing(dest, release, policy, packseal_home):
    install(release("2.0.0"), dest, policy)
    before, events = snapshot(dest), audit_events(packseal_home)

    with pytest.raises(InstallRefused, match=r"refused at rollback: version '1\.0\.0' is older than '2\.0\.0'"):
        install(release("1.0.0", NEW_PACK), dest, policy, dry_run=True)

    assert snapshot(dest) == before and audit_events(packseal_home) == events


def test_a_damaged_highest_version_in_the_record_is_refused_not_ignored(dest, release, policy):
    """The record is what keeps the highest version: one that cannot be read fails closed, it is not reset."""
    install(release("2.0.0"), dest, policy)
    path = dest / ".packseal-installs" / "pack.json"
    record = json.loads(path.read_text())
    record["highest"] = "2.0.0"
    path.write_text(json.dumps(record))
    before = snapshot(dest)

    with pytest.raises(OutputError, match=r"not an install record .*'highest' must be null or an object"):
        install(release("1.0.0", NEW_PACK), dest, policy)

    assert snapshot(dest) == before


# --- an allowed downgrade ---------------------------------------------------------------------------


def test_an_allowed_downgrade_is_recorded_and_does_not_lower_the_highest(dest, release, policy, packseal_home):
    newest = install(release("2.0.0"), dest, policy)
    old = release("1.0.0", NEW_PACK)

    downgraded = install(old, dest, policy, allow_downgrade=True)

    assert snapshot(dest / "pack") == snapshot(old)
    assert downgraded.downgrade.startswith("version '1.0.0' is older than '2.0.0'")
    assert downgraded.verdict.checks[-1].detail.startswith("DOWNGRADE allowed by --allow-downgrade: version '1.0.0'")
    record = record_of(dest)
    assert record["version"] == "1.0.0" and record["downgrade"] == downgraded.downgrade
    assert record["highest"] == {"version": "2.0.0", "digest": newest.digest}
    event = audit_events(packseal_home)[-1]
    assert (event["action"], event["verdict"], event["bundle"]) == ("downgrade", "verified", "pack")
    assert event["detail"]["version"] == "1.0.0" and event["detail"]["highest"] == "2.0.0"
    assert event["detail"]["downgrade"] == downgraded.downgrade


def test_after_a_downgrade_the_next_install_is_checked_against_the_highest_ever(dest, release, policy):
    """TUF-style high-water mark: allowing one downgrade does not lower the floor for the installs after it."""
    newest = install(release("2.0.0"), dest, policy)
    old = release("1.0.0", NEW_PACK)
    install(old, dest, policy, allow_downgrade=True)

    with pytest.raises(InstallRefused, match=r"version '1\.5\.0' is older than '2\.0\.0'"):
        install(release("1.5.0", THIRD_PACK), dest, policy)
    with pytest.raises(InstallRefused, match=r"version '1\.0\.0' is older than '2\.0\.0'"):
        install(old, dest, policy)

    assert install(release("2.0.0"), dest, policy).digest == newest.digest
    assert install(release("2.1.0", THIRD_PACK), dest, policy).highest.version == "2.1.0"


def test_an_allowed_same_version_with_another_digest_becomes_the_highest(dest, release, policy):
    install(release("1.0.0"), dest, policy)
    rebuilt = install(release("1.0.0", NEW_PACK), dest, policy, allow_downgrade=True)

    assert read_installed(dest, "pack").highest.digest == rebuilt.digest
    assert install(release("1.0.0", NEW_PACK), dest, policy).downgrade is None


# --- versions order as the publisher's policy says ------------------------------------------------------------------


@pytest.mark.parametrize("versioning", ["semver", "pep440"])
@pytest.mark.parametrize(
    ("lower", "higher"),
    [("1.9.0", "1.10.0"), ("1.0.0-rc.1", "1.0.0"), ("1.0.0-alpha.9", "1.0.0-alpha.10"), ("0.9.9", "1.0.0-alpha")],
)
def test_both_schemes_order_numbers_numerically_and_pre_releases_first(
    tmp_path, dest, release, key_pair, versioning, lower, higher
):
    trust = semver_policy(tmp_path, key_pair, versioning)
    install(release(lower), dest, trust)
    install(release(higher, NEW_PACK), dest, trust)

    with pytest.raises(InstallRefused, match=f"version '{lower}' is older than '{higher}'"):
        install(release(lower, THIRD_PACK), dest, trust)


def test_semver_ignores_build_metadata_where_pep_440_orders_local_versions(tmp_path, dest, release, key_pair):
    """The policy's scheme decides: `+build.2` is the same SemVer version as `+build.1`, but a later PEP 440 one."""
    semver, pep440 = semver_policy(tmp_path, key_pair, "semver"), semver_policy(tmp_path, key_pair, "pep440")
    install(release("1.0.0+build.1"), dest, semver)

    with pytest.raises(InstallRefused, match=r"'1\.0\.0\+build\.2' is the same version as '1\.0\.0\+build\.1'"):
        install(release("1.0.0+build.2", NEW_PACK), dest, semver)
    assert install(release("1.0.0+build.2", NEW_PACK), dest, pep440).highest.version == "1.0.0+build.2"


def test_a_pep_440_version_that_is_not_semver_is_refused_under_semver(tmp_path, dest, release, key_pair):
    trust = semver_policy(tmp_path, key_pair)
    install(release("1.0.0"), dest, trust)
    before = snapshot(dest)

    with pytest.raises(InstallRefused, match=r"version '1\.1' is not a SemVer 2\.0\.0 version, the publisher's"):
        install(release("1.1", NEW_PACK), dest, trust)

    assert snapshot(dest) == before


def test_a_highest_version_the_new_versioning_cannot_order_needs_allow_downgrade(tmp_path, dest, release, key_pair):
    """The publisher moved from PEP 440 to SemVer: `2.0` is no SemVer version, so nothing can be said to be newer."""
    install(release("2.0"), dest, semver_policy(tmp_path, key_pair, "pep440"))
    trust = semver_policy(tmp_path, key_pair, "semver")

    with pytest.raises(InstallRefused, match=r"'2\.1\.0' cannot be ordered against '2\.0', .* not a SemVer 2\.0\.0"):
        install(release("2.1.0", NEW_PACK), dest, trust)
    assert install(release("2.1.0", NEW_PACK), dest, trust, allow_downgrade=True).highest.version == "2.1.0"
    assert install(release("2.2.0", THIRD_PACK), dest, trust).downgrade is None
