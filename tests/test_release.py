"""The release pipeline: its workflow passes actionlint and zizmor, and its logic runs here.

actionlint and zizmor run offline on every workflow file and any finding
fails the test (zizmor at its pedantic persona). The dry run builds the
current tree in a fresh repository, signs, attests and verifies each
artifact, as `.github/workflows/release.yml` does on a tag.
"""

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def _run(*command: str | Path, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_there_is_a_release_workflow() -> None:
    assert ROOT / ".github" / "workflows" / "release.yml" in WORKFLOWS


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_actionlint_finds_nothing(workflow: Path) -> None:
    result = _run(BIN / "actionlint", "-no-color", workflow)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_zizmor_finds_nothing_even_pedantic(workflow: Path) -> None:
    result = _run(BIN / "zizmor", "--offline", "--no-progress", "--persona", "pedantic", workflow)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_every_action_is_pinned_by_full_commit() -> None:
    for workflow in WORKFLOWS:
        for line in workflow.read_text().splitlines():
            if "uses:" in line:
                reference = line.split("uses:", 1)[1].split("#", 1)[0].strip()
                assert len(reference.rpartition("@")[2]) == 40, f"{workflow.name}: {line.strip()}"


@pytest.mark.slow
def test_release_dry_run_signs_attests_and_verifies_every_artifact(tmp_path: Path) -> None:
    tree = tmp_path / "packseal"
    listed = _run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard").stdout.split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tree / name, follow_symlinks=False)
    environment = {
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "release",
        "GIT_AUTHOR_EMAIL": "release@example.invalid",
        "GIT_COMMITTER_NAME": "release",
        "GIT_COMMITTER_EMAIL": "release@example.invalid",
    }
    for command in (("git", "init", "-q"), ("git", "add", "-A"), ("git", "commit", "-qm", "release candidate")):
        assert _run(*command, cwd=tree, env=environment).returncode == 0
    head = _run("git", "rev-parse", "HEAD", cwd=tree, env=environment).stdout.strip()

    result = _run(tree / "scripts" / "release-dry-run", cwd=tree, env=environment)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"every artifact signed, attested and verified at {head}" in result.stdout
    artifacts = sorted(path.name for path in (tree / "dist").iterdir())
    for suffix in (".whl", ".tar.gz"):
        (artifact,) = [name for name in artifacts if name.endswith(suffix)]
        assert {f"{artifact}.minisig", f"{artifact}.provenance.json", f"{artifact}.provenance.json.minisig"} <= set(
            artifacts
        )
    assert result.stdout.count("[ok] source-commit: source commit " + head) == 2
    (wheel,) = (tree / "dist").glob("*.whl")
    shipped = zipfile.ZipFile(wheel).namelist()
    assert {"packseal-0.1.0.dist-info/licenses/LICENSE", "signing/py.typed", "attest/py.typed"} <= set(shipped)


_CHANGELOG = """# Changelog

## [Unreleased]

## [1.1.0] - 2026-02-01

### Fixed
- the second release

## [1.0.0] - 2026-01-01

### Added
- the first release
"""


def _release_notes(tmp_path: Path, version: str) -> subprocess.CompletedProcess[str]:
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text(_CHANGELOG)
    return _run(sys.executable, ROOT / "scripts" / "release-notes", version, changelog)


def test_release_notes_are_the_changelog_section_of_the_tag(tmp_path: Path) -> None:
    result = _release_notes(tmp_path, "v1.1.0")
    assert (result.returncode, result.stdout) == (0, "### Fixed\n- the second release\n")
    assert _release_notes(tmp_path, "1.0.0").stdout == "### Added\n- the first release\n"


@pytest.mark.parametrize("version", ["v2.0.0", "Unreleased", "v1.1"])
def test_a_version_without_notes_has_no_release(tmp_path: Path, version: str) -> None:
    result = _release_notes(tmp_path, version)
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and "has no notes" in result.stderr


def test_the_release_workflow_publishes_the_changelog_notes() -> None:
    workflow = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    assert 'scripts/release-notes "$TAG" > /dev/null' in workflow
    assert '--notes-file "$RUNNER_TEMP/notes.md"' in workflow
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text()


def test_the_license_file_is_the_declared_apache_2_and_ships() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "END OF TERMS AND CONDITIONS" in text
