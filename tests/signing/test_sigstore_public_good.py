"""Real bundles from Sigstore's public-good instances, verified offline as the testdata table says.

The rows come from the table in `tests/data/sigstore/README.md`
itself, so a row added there is tested here. Each verification runs
`packseal verify-bundle --offline` through the console script's entry
point, against the trusted roots shipped inside the `sigstore` package,
with HOME a temporary directory (which offline verification leaves alone).
"""

from __future__ import annotations

import io
import os
import re
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any
from unittest.mock import patch

import json_output
import pytest

from signing.cli import main

TESTDATA = Path(__file__).resolve().parents[1] / "data" / "sigstore"

GITHUB_OAUTH = "https://github.com/login/oauth"
GITHUB_ACTIONS = "https://token.actions.githubusercontent.com"
OTHER_IDENTITIES = (
    "attacker@example.com",
    "https://github.com/attacker/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2",
)
OTHER_ISSUERS = (GITHUB_OAUTH, GITHUB_ACTIONS, "https://accounts.google.com")
REFUSAL_REASONS = {
    "bundle_cve_2022_36056.txt": "log inclusion: ",
    "bundle_invalid_version.txt": "not a valid Sigstore bundle: ",
}
"""How the detail of each refused row names what failed, after the bundle path."""


@dataclass(frozen=True)
class Row:
    """One row of the testdata table."""

    artifact: Path
    bundle: Path
    instance: str
    identity: str
    issuer: str
    result: str

    @property
    def verifies(self) -> bool:
        return self.result == "verifies"

    def instance_options(self, instance: str | None = None) -> tuple[str, ...]:
        """Offline, against `instance` (default: the row's own); "—" means production."""
        staging = (instance or self.instance) == "staging"
        return ("--staging", "--offline") if staging else ("--offline",)

    def __str__(self) -> str:
        return self.artifact.name


def table_rows() -> list[Row]:
    """The rows of the README's table, below its header and separator lines."""
    readme = (TESTDATA / "README.md").read_text()
    lines = [line for line in readme.splitlines() if line.startswith("|")]
    rows = []
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        artifact, bundle, instance, identity, issuer, result = cells
        rows.append(Row(TESTDATA / artifact, TESTDATA / bundle, instance, identity, issuer, result))
    return rows


ROWS = table_rows()
VERIFYING = [row for row in ROWS if row.verifies]
REFUSED = [row for row in ROWS if not row.verifies]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


def verify_bundle(home: Path, row: Row, *options: str) -> tuple[int, dict[str, Any]]:
    """Exit code and JSON verdict of `packseal verify-bundle ARTIFACT --bundle BUNDLE OPTIONS`."""
    argv = ["packseal", "verify-bundle", str(row.artifact), "--bundle", str(row.bundle)]
    argv += [*options, "--json"]
    stdout = io.StringIO()
    environment = {"PATH": os.environ["PATH"], "HOME": str(home)}
    with (
        patch.dict(os.environ, environment, clear=True),
        patch.object(sys, "argv", argv),
        redirect_stdout(stdout),
        redirect_stderr(io.StringIO()),
        pytest.raises(SystemExit) as stop,
    ):
        main()
    return int(stop.value.code or 0), json_output.parse(stdout.getvalue())


def policy(identity: str, issuer: str) -> tuple[str, ...]:
    return ("--certificate-identity", identity, "--certificate-oidc-issuer", issuer)


def refused_by(code: int, verdict: dict[str, Any], row: Row) -> str:
    """The failed check's detail, after the bundle path it must start with."""
    assert code == 1, verdict
    assert verdict["verified"] is False
    (failed,) = [check for check in verdict["checks"] if not check["ok"]]
    assert failed["name"] == "signature"
    assert failed["detail"].startswith(f"{row.bundle}: "), failed["detail"]
    return str(failed["detail"]).removeprefix(f"{row.bundle}: ")


def test_table_has_the_rows_this_file_expects() -> None:
    assert {row.artifact.name for row in REFUSED} == REFUSAL_REASONS.keys()
    assert len(VERIFYING) == 3
    assert all(row.artifact.is_file() and row.bundle.is_file() for row in ROWS)


@pytest.mark.parametrize("row", VERIFYING, ids=str)
def test_row_verifies(home: Path, row: Row) -> None:
    options = (*row.instance_options(), *policy(row.identity, row.issuer))

    code, verdict = verify_bundle(home, row, *options)

    assert code == 0, verdict
    assert verdict["verified"] is True
    assert verdict["digest"] == f"sha256:{sha256(row.artifact.read_bytes()).hexdigest()}"
    assert [signer["identity"] for signer in verdict["signers"]] == [row.identity]


@pytest.mark.parametrize("row", REFUSED, ids=str)
def test_row_refused(home: Path, row: Row) -> None:
    anyone = (OTHER_IDENTITIES[0], GITHUB_OAUTH)
    identity, issuer = (row.identity, row.issuer) if row.identity != "—" else anyone

    code, verdict = verify_bundle(home, row, *row.instance_options(), *policy(identity, issuer))

    assert refused_by(code, verdict, row).startswith(REFUSAL_REASONS[row.artifact.name])


def other_identities(row: Row) -> list[tuple[str, ...]]:
    """Identity options that name anyone but the signer, some of them a near miss."""
    exact = [other for other in OTHER_IDENTITIES if other != row.identity] + [row.identity[:-1]]
    near_misses = [re.escape(row.identity[:-1]), re.escape(row.identity[1:])]
    return [("--certificate-identity", identity) for identity in exact] + [
        ("--certificate-identity-regexp", pattern) for pattern in near_misses
    ]


def other_issuers(row: Row) -> list[tuple[str, ...]]:
    exact = [issuer for issuer in OTHER_ISSUERS if issuer != row.issuer] + [row.issuer + "/"]
    return [("--certificate-oidc-issuer", issuer) for issuer in exact] + [
        ("--certificate-oidc-issuer-regexp", re.escape(row.issuer[:-1]))
    ]


@pytest.mark.parametrize(
    ("row", "identity"),
    [(row, identity) for row in VERIFYING for identity in other_identities(row)],
    ids=lambda value: str(value) if isinstance(value, Row) else " ".join(value),
)
def test_other_identity_refused(home: Path, row: Row, identity: tuple[str, ...]) -> None:
    options = (*identity, "--certificate-oidc-issuer", row.issuer)

    code, verdict = verify_bundle(home, row, *row.instance_options(), *options)

    assert refused_by(code, verdict, row).startswith("identity: ")


@pytest.mark.parametrize(
    ("row", "issuer"),
    [(row, issuer) for row in VERIFYING for issuer in other_issuers(row)],
    ids=lambda value: str(value) if isinstance(value, Row) else " ".join(value),
)
def test_other_issuer_refused(home: Path, row: Row, issuer: tuple[str, ...]) -> None:
    options = ("--certificate-identity", row.identity, *issuer)

    code, verdict = verify_bundle(home, row, *row.instance_options(), *options)

    assert refused_by(code, verdict, row).startswith("issuer: ")


@pytest.mark.parametrize("row", VERIFYING, ids=str)
def test_bundle_checked_against_the_other_instance_refused(home: Path, row: Row) -> None:
    """A staging bundle is refused by production (no --staging), a production one by staging."""
    other = "production" if row.instance == "staging" else "staging"

    options = (*row.instance_options(other), *policy(row.identity, row.issuer))

    code, verdict = verify_bundle(home, row, *options)

    assert refused_by(code, verdict, row).startswith("certificate chain: ")
