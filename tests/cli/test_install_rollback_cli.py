"""`packseal install` refuses a rollback in one line naming both versions; `--allow-downgrade` says and logs it."""

import json
import shutil
from pathlib import Path

import json_output
import pytest
from trees import snapshot


@pytest.fixture
def setup(tmp_path, pack, key_store, run_packseal):
    """Two releases of `pack` (2.0.0 and an older 1.0.0 with other content), a SemVer policy, DEST, PACKSEAL_HOME."""
    key = key_store("trusted")
    releases = {}
    for version, readme in (("2.0.0", b"# v2\n"), ("1.0.0", b"# v1\n")):
        release = tmp_path / version / "pack"
        shutil.copytree(pack, release, symlinks=True)
        (release / "README.md").write_bytes(readme)
        signed = run_packseal("sign", release, "--minisign-key", key.key, "--bundle-version", version)
        assert signed.returncode == 0, signed.stderr
        releases[version] = release
    policy = tmp_path / "trust.toml"
    policy.write_text(
        f'[[publisher]]\nname = "acme"\nbundles = ["pack"]\nminisign_keys = ["{key.pub}"]\nversioning = "semver"\n'
    )
    dest = tmp_path / "plugins"
    dest.mkdir()
    home = tmp_path / "home"

    def install(version: str, *extra: str, env: dict | None = None):
        return run_packseal(
            "install",
            releases[version],
            dest,
            "--policy",
            policy,
            *extra,
            env={"PACKSEAL_HOME": str(home), **(env or {})},
        )

    return install, dest, home, releases


def audit_actions(home: Path) -> list[str]:
    return [json.loads(line)["action"] for line in (home / "audit.jsonl").read_text().splitlines()]


def test_an_older_version_is_refused_in_one_line_naming_both(setup):
    install, dest, home, _ = setup
    assert install("2.0.0").returncode == 0
    before = snapshot(dest)

    result = install("1.0.0")

    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "refused at rollback: version '1.0.0' is older than '2.0.0', the highest version installed" in result.stderr
    assert "[FAIL] rollback: version '1.0.0' is older than '2.0.0'" in result.stdout
    assert snapshot(dest) == before
    assert audit_actions(home) == ["install", "install-refused"]


def test_an_allowed_downgrade_is_shown_recorded_and_logged(setup):
    install, dest, home, releases = setup
    assert install("2.0.0").returncode == 0

    result = install("1.0.0", "--allow-downgrade")

    assert result.returncode == 0, result.stderr
    assert "  version    1.0.0\n" in result.stdout
    assert "  DOWNGRADE  allowed by --allow-downgrade: version '1.0.0' is older than '2.0.0'" in result.stdout
    assert snapshot(dest / "pack") == snapshot(releases["1.0.0"])
    record = json.loads((dest / ".packseal-installs" / "pack.json").read_text())
    assert record["downgrade"].startswith("version '1.0.0' is older than '2.0.0'")
    assert record["highest"]["version"] == "2.0.0"
    assert audit_actions(home) == ["install", "downgrade"]


def test_install_json_carries_the_version_and_the_highest(setup):
    install, *_ = setup
    assert install("1.0.0").returncode == 0

    result = install("2.0.0", "--json")

    document = json_output.parse(result.stdout)
    assert (document["version"], document["highest"]["version"], document["downgrade"]) == ("2.0.0", "2.0.0", None)
    assert document["changes"]["version"] == {"before": "1.0.0", "after": "2.0.0"}
    assert document["checks"][-1]["name"] == "rollback"


def test_the_environment_cannot_allow_a_downgrade(setup):
    """Relaxing rollback protection is a trust decision: command line only, and a variable named like it is refused."""
    install, dest, _, _ = setup
    assert install("2.0.0").returncode == 0
    before = snapshot(dest)

    result = install("1.0.0", env={"PACKSEAL_INSTALL_ALLOW_DOWNGRADE": "1"})

    assert result.returncode == 2, result.stderr
    assert "PACKSEAL_INSTALL_ALLOW_DOWNGRADE is set, but install --allow-downgrade decides trust" in result.stderr
    assert snapshot(dest) == before
