"""Every shell command in README.md and keys/README.md runs, in order, as written.

Each document runs in its own scratch directory holding `my-pack/` (the
sample pack) and `mydaemon` (an executable), with packseal on PATH, the
password in PACKSEAL_PASSWORD and the identity token in
PACKSEAL_SIGN_IDENTITY_TOKEN. The trust config of the local Sigstore
instance is never read from the environment, so `packseal` on PATH is a
wrapper that adds `--trust-config` to the commands that use Sigstore, and a
command like `packseal sign my-pack --sigstore` runs unchanged. The wrapper
runs packseal with the suite's cheap scrypt cost (tests/key_derivation.py):
each password command takes milliseconds, not seconds. A command written with a
leading `!` must be refused: exit 1, not a usage error.

README's first two blocks (install and demo; install and test) are covered
by tests/test_readme.py and by CI running .ci/run.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import key_derivation
import pytest

ROOT = Path(__file__).resolve().parent.parent
RELEASE_COMMIT = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
DOCUMENTS = {"README.md": 2, "keys/README.md": 0}
"""Each document, and how many of its leading shell blocks are covered elsewhere."""


def shell_commands(markdown: str, skip_blocks: int) -> list[str]:
    """The commands of the ```sh blocks, continuation lines joined, blank lines dropped."""
    blocks = re.findall(r"```sh\n(.*?)\n```", markdown, flags=re.DOTALL)[skip_blocks:]
    return [
        command
        for block in blocks
        for command in block.replace("\\\n", " ").splitlines()
        if command.strip() and not command.lstrip().startswith("#")
    ]


def test_the_documents_have_commands_to_run() -> None:
    for document, skip in DOCUMENTS.items():
        assert len(shell_commands((ROOT / document).read_text(), skip)) >= 4, document


def test_every_sigstore_verification_pins_the_calling_repository() -> None:
    """The identity alone accepts a reusable workflow called from another repository (README)."""
    for document, skip in DOCUMENTS.items():
        for command in shell_commands((ROOT / document).read_text(), skip):
            if "verify-bundle" in command and "--certificate-identity" in command:
                assert "--github-repository " in command, f"{document}: {command}"


_LOCAL_SIGSTORE_WRAPPER = """#!/bin/bash
case "$1 $*" in
    sign*--sigstore* | attest*--sigstore* | verify-bundle*--certificate-*)
        set -- "$@" --trust-config '{trust_config}' ;;
esac
exec '{python}' '{packseal}' "$@"
"""


@pytest.fixture
def sandbox(tmp_path: Path, sigstore_instance) -> tuple[Path, dict[str, str]]:  # type: ignore[no-untyped-def]
    shutil.copytree(ROOT / "examples" / "hello-pack", tmp_path / "my-pack", symlinks=True)
    shutil.copy2("/bin/true", tmp_path / "mydaemon")
    wrapper = tmp_path / "bin" / "packseal"
    wrapper.parent.mkdir()
    wrapper.write_text(_LOCAL_SIGSTORE_WRAPPER.format(
        python=sys.executable, packseal=key_derivation.__file__, trust_config=sigstore_instance.trust_config
    ))  # fmt: skip
    wrapper.chmod(0o755)
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PACKSEAL_", "GITHUB_", "ACTIONS_", "SIGSTORE_"))
    }
    environment.update(
        PATH=os.pathsep.join((str(wrapper.parent), str(Path(sys.executable).parent), os.environ["PATH"])),
        HOME=str(tmp_path),
        PACKSEAL_PASSWORD="correct horse battery staple",
        PACKSEAL_SIGN_IDENTITY_TOKEN=sigstore_instance.mint_github_token(
            repository="acme/pack", ref="refs/tags/v1.0.0", sha=RELEASE_COMMIT
        ),
    )
    return tmp_path, environment


@pytest.mark.slow
@pytest.mark.sigstore_local
@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_command_runs_as_written(document: str, sandbox: tuple[Path, dict[str, str]]) -> None:
    directory, environment = sandbox
    commands = shell_commands((ROOT / document).read_text(), DOCUMENTS[document])
    for command in commands:
        must_fail = command.startswith("! ")
        result = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command.removeprefix("! ")],
            cwd=directory,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        expected = 1 if must_fail else 0
        assert result.returncode == expected, f"{command}\n{result.stdout}\n{result.stderr}"
