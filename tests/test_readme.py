"""The README's first commands: the demo runs, and CI runs exactly the README's test line."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _fenced_commands(markdown: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)\n```", markdown, flags=re.DOTALL)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    install_and_demo, install_and_test = _fenced_commands((ROOT / "README.md").read_text())[:2]
    ci_script = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert install_and_demo.endswith("examples/demo")
    assert ci_script[-1] == install_and_test == "scripts/test"
    test_script = (ROOT / "scripts" / "test").read_text().strip().splitlines()
    assert "apt-get install -y -qq minisign" in "\n".join(test_script)
    assert test_script[-1] == 'exec python -m pytest -n auto --dist loadscope "$@"'


def test_demo_signs_verifies_and_refuses_the_tampered_pack(tmp_path: Path) -> None:
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    environment.pop("PACKSEAL_PASSWORD", None)
    before = sorted(p.relative_to(ROOT) for p in (ROOT / "examples").rglob("*"))

    result = subprocess.run(
        [ROOT / "examples" / "demo"], capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert "\nVERIFIED hello-pack\n" in result.stdout
    assert "\nREFUSED hello-pack\n" in result.stdout
    assert "[FAIL] files: changed: prompts/system.md" in result.stdout
    assert sorted(p.relative_to(ROOT) for p in (ROOT / "examples").rglob("*")) == before
