"""Where Sigstore verification gets its trusted root, and what it does under HOME.

`--offline` trusts exactly the root shipped inside the installed `sigstore`
package: sigstore-python's TUF cache under HOME (`~/.cache/sigstore-python`,
`~/.local/share/sigstore-python`) is neither read nor written, so a root
planted there is ignored and a HOME that is unusable does not matter.
Online, the root is refreshed through TUF; without a network (as here) that
fails, and the failure, like an unusable cache, is one line that says what
to do instead. A FIFO in the cache must never hang the verifier.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import json_output
import pytest
from sigstore._utils import read_embedded
from sigstore_local import SigstoreInstance

TESTDATA = Path(__file__).resolve().parents[1] / "data" / "sigstore"
PRODUCTION_TUF = "https://tuf-repo-cdn.sigstore.dev"
STAGING_TUF = "https://tuf-repo-cdn.sigstage.dev"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"

RELEASE = SimpleNamespace(
    artifact=TESTDATA / "bundle_v3_github.whl",
    bundle=TESTDATA / "bundle_v3_github.whl.sigstore",
    policy=(
        "--certificate-identity",
        "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2",
        "--certificate-oidc-issuer", GITHUB_ISSUER,
        "--github-repository", "trailofbits/rfc8785.py",
    ),
)  # fmt: skip
"""A real bundle from public-good production Sigstore, and the policy it verifies under."""

ACME_REF = "refs/tags/v1.0.0"
ACME_POLICY = (
    "--certificate-identity", f"https://github.com/acme/pack/.github/workflows/release.yml@{ACME_REF}",
    "--certificate-oidc-issuer", GITHUB_ISSUER,
    "--github-repository", "acme/pack",
)  # fmt: skip


def tuf_cache(home: Path, url: str) -> Path:
    """sigstore-python's targets cache for `url` (trusted_root.json and the signing config)."""
    return home / ".cache" / "sigstore-python" / "tuf" / quote(url, safe="")


def tuf_metadata(home: Path, url: str) -> Path:
    """sigstore-python's TUF metadata directory for `url` (root.json and its history)."""
    return home / ".local" / "share" / "sigstore-python" / "tuf" / quote(url, safe="")


def verify(cli: SimpleNamespace, home: Path, *arguments: str | Path, **options: object) -> subprocess.CompletedProcess:
    """`packseal verify-bundle` with HOME `home`, the platform directories left to their defaults."""
    environment = {"HOME": str(home), "XDG_CACHE_HOME": "", "XDG_DATA_HOME": ""}
    return cli.packseal("verify-bundle", *arguments, env=environment, **({"timeout": 60} | options))


def verify_release(cli: SimpleNamespace, home: Path, *options: str, **run: object) -> subprocess.CompletedProcess:
    return verify(cli, home, RELEASE.artifact, "--bundle", RELEASE.bundle, *RELEASE.policy, *options, **run)


def assert_verified(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VERIFIED" in result.stdout.upper(), result.stdout


def assert_one_error_line(result: subprocess.CompletedProcess, *phrases: str) -> None:
    assert result.returncode not in (0, 1), result.stdout + result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("packseal: error: "), result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.endswith("\n"), result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


def tree(home: Path) -> list[str]:
    return sorted(str(path.relative_to(home)) for path in home.rglob("*"))


# --- offline: the shipped root, and nothing under HOME ---------------------


@pytest.fixture(scope="module")
def acme_release(
    sigstore_instance: SigstoreInstance, cli: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A file signed through the local instance as acme/pack's release workflow: a CA no public root knows."""
    directory = tmp_path_factory.mktemp("acme")
    artifact = directory / "pack.whl"
    artifact.write_bytes(b"not acme's release\n")
    token = sigstore_instance.mint_github_token(repository="acme/pack", ref=ACME_REF, sha="0" * 40)
    result = cli.packseal(
        "sign",
        artifact,
        "--sigstore",
        "--identity-token",
        token,
        "--trust-config",
        sigstore_instance.trust_config,
        env={"HOME": str(directory)},
    )
    assert result.returncode == 0, result.stderr
    return artifact


@pytest.mark.sigstore_local
@pytest.mark.parametrize(
    ("url", "instance"), [(PRODUCTION_TUF, ()), (STAGING_TUF, ("--staging",))], ids=["production", "staging"]
)
def test_offline_ignores_a_root_planted_in_the_tuf_cache(
    cli: SimpleNamespace,
    sigstore_instance: SigstoreInstance,
    acme_release: Path,
    tmp_path: Path,
    url: str,
    instance: tuple[str, ...],
) -> None:
    """The attacker's CA in sigstore's cache must not make its certificate acme/pack's."""
    cache = tuf_cache(tmp_path, url)
    cache.mkdir(parents=True)
    shutil.copyfile(sigstore_instance.trusted_root, cache / "trusted_root.json")

    result = verify(cli, tmp_path, acme_release, *instance, "--offline", *ACME_POLICY, "--json")

    assert result.returncode == 1, result.stdout + result.stderr
    (failed,) = [check for check in json_output.parse(result.stdout)["checks"] if not check["ok"]]
    assert failed["name"] == "signature"
    assert ": certificate chain: " in failed["detail"], failed["detail"]


def test_offline_verification_leaves_home_empty(cli: SimpleNamespace, tmp_path: Path) -> None:
    assert_verified(verify_release(cli, tmp_path, "--offline"))

    assert tree(tmp_path) == []


def test_offline_verification_with_home_a_file(cli: SimpleNamespace, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a directory\n")

    assert_verified(verify_release(cli, home, "--offline"))


def test_offline_verification_with_a_read_only_home(
    cli: SimpleNamespace, tmp_path: Path, make_read_only: Callable[[Path], None]
) -> None:
    make_read_only(tmp_path)

    assert_verified(verify_release(cli, tmp_path, "--offline", unprivileged=True))

    assert tree(tmp_path) == []


def plant_directory(path: Path) -> None:
    path.mkdir()


def plant_garbage(path: Path) -> None:
    path.write_bytes(b"\x00{not json")


def plant_fifo(path: Path) -> None:
    os.mkfifo(path)


PLANTED = {"directory": plant_directory, "garbage": plant_garbage, "fifo": plant_fifo}
"""What can sit in sigstore's cache where the trusted root and signing config go."""


@pytest.mark.parametrize("plant", PLANTED.values(), ids=PLANTED.keys())
@pytest.mark.parametrize("name", ["trusted_root.json", "signing_config.v0.2.json"])
def test_offline_verification_ignores_a_broken_tuf_cache(
    cli: SimpleNamespace, tmp_path: Path, plant: Callable[[Path], None], name: str
) -> None:
    cache = tuf_cache(tmp_path, PRODUCTION_TUF)
    cache.mkdir(parents=True)
    plant(cache / name)
    before = tree(tmp_path)

    assert_verified(verify_release(cli, tmp_path, "--offline", timeout=30))

    assert tree(tmp_path) == before


# --- online: a TUF refresh that cannot happen is one line ------------------

SUGGESTION = ("TUF", "--offline", "--trusted-root")


def test_online_refresh_failure_is_one_line(cli: SimpleNamespace, tmp_path: Path) -> None:
    """No network here: the refresh fails, and the line says how to verify without it."""
    assert_one_error_line(verify_release(cli, tmp_path), *SUGGESTION)


def test_online_with_home_a_file_is_one_line(cli: SimpleNamespace, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a directory\n")

    assert_one_error_line(verify_release(cli, home), *SUGGESTION)


def test_online_with_a_read_only_home_is_one_line(
    cli: SimpleNamespace, tmp_path: Path, make_read_only: Callable[[Path], None]
) -> None:
    make_read_only(tmp_path)

    assert_one_error_line(verify_release(cli, tmp_path, unprivileged=True), *SUGGESTION)

    assert tree(tmp_path) == []


def next_root_version(url: str) -> int:
    """The root version TUF looks for first in its local history: one past the shipped root."""
    return int(json.loads(read_embedded("root.json", url))["signed"]["version"]) + 1


FIFO_PLACES = {
    "next root in the metadata history": lambda home: (
        tuf_metadata(home, PRODUCTION_TUF) / "root_history" / f"{next_root_version(PRODUCTION_TUF)}.root.json"
    ),
    "trusted root in the targets cache": lambda home: tuf_cache(home, PRODUCTION_TUF) / "trusted_root.json",
}


@pytest.mark.parametrize("place", FIFO_PLACES.values(), ids=FIFO_PLACES.keys())
def test_online_with_a_fifo_in_the_tuf_cache_is_one_line_without_hanging(
    cli: SimpleNamespace, tmp_path: Path, place: Callable[[Path], Path]
) -> None:
    fifo = place(tmp_path)
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)

    result = verify_release(cli, tmp_path, timeout=30)

    assert_one_error_line(result, str(fifo), "--offline")
