"""The startup self-check of a compiled program: a swapped binary or a stale record refuses to start.

The daemon here is real: a copy of this interpreter's executable, started in
a child process that runs the two lines a daemon adds, as a frozen
application (`sys.frozen`, as PyInstaller sets it) whose code is in the
executable. So `/proc/self/exe` is the copy, and replacing the copy's path
on disk after the start is the attack ARCHITECTURE.md says the check must
see through. A Python program's record is tested in test_selfcheck_python.py.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import json_output
import pytest

from attest.canonical import canonical_json
from signing import selfcheck
from signing.backends.minisign import MinisignKeyring, generate_key_pair, key_id
from signing.errors import BundleError, OutputError, SelfCheckError, TrustPolicyError
from signing.selfcheck import check_self, record_self, signature_path

REPO = Path(selfcheck.__file__).resolve().parents[1]
CHILD_PYTHONPATH = os.pathsep.join([str(REPO), sysconfig.get_paths()["purelib"]])

DAEMON = """
import sys
sys.frozen = True
from signing.selfcheck import check_self
check_self(sys.argv[1], public_key=sys.argv[2])
print("started")
"""

WAIT_THEN_CHECK = """
import json, sys
sys.frozen = True
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

CLI = "from signing.cli import main; main()"


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


def _recorded_digest(record: Path) -> str:
    return json.loads(record.read_bytes())["executable"]["sha256"]


def _refused(result: subprocess.CompletedProcess) -> str:
    """The daemon did not start; returns the SelfCheckError line it died with."""
    assert result.returncode == 1 and "started" not in result.stdout, result
    return result.stderr.strip().splitlines()[-1]


# --- the daemon's two lines, in a child process of the real binary ----------


def test_the_running_copy_passes_its_signed_record(daemon, record, release_pub):
    result = _run(daemon, DAEMON, record, release_pub)
    assert result.returncode == 0 and result.stdout.strip() == "started", result.stderr


def test_check_hashes_the_running_image_not_the_interpreter_path(daemon, record):
    result = _run(
        daemon,
        "from signing.selfcheck import check_self; import json, sys; sys.frozen = True; "
        "print(json.dumps(check_self(sys.argv[1], allow_unsigned=True).to_json()))",
        record,
    )
    reported = json_output.parse(result.stdout)
    assert reported["executable"] == "/proc/self/exe" and reported["signers"] == []
    assert reported["digest"] == f"sha256:{_sha256(daemon)}"


def test_path_replaced_after_start_still_checks_what_runs(daemon, trojan, record, release_pub):
    child = subprocess.Popen(
        [str(daemon), "-c", WAIT_THEN_CHECK, str(record), str(release_pub)],
        env={**os.environ, "PYTHONPATH": CHILD_PYTHONPATH},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline() == "waiting\n"
    os.replace(trojan, daemon)
    out, err = child.communicate("go\n", timeout=60)
    assert child.returncode == 0, err
    report = json.loads(out)
    assert json_output.parse(json.dumps(report["running"]))["digest"] == f"sha256:{_recorded_digest(record)}"
    assert _sha256(daemon) in report["on_disk"], "the path on disk is the trojan now"


def test_the_trojan_refuses_to_start(trojan, record, release_pub):
    message = _refused(_run(trojan, DAEMON, record, release_pub))
    assert message.startswith("signing.errors.SelfCheckError: /proc/self/exe")
    assert _sha256(trojan) in message and _recorded_digest(record) in message


def test_record_of_another_binary_is_refused(daemon, trojan, tmp_path, key_pair, release_pub):
    record_of_trojan = tmp_path / "trojan.record"
    record_self(trojan, record_of_trojan, secret_key=key_pair.secret_key)
    message = _refused(_run(daemon, DAEMON, record_of_trojan, release_pub))
    assert _sha256(daemon) in message and _sha256(trojan) in message


def test_record_rewritten_for_the_trojan_fails_its_signature(trojan, record, release_pub):
    tampered = json.loads(record.read_bytes())
    tampered["executable"].update(sha256=_sha256(trojan), size=trojan.stat().st_size)
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


def test_missing_record_is_refused(daemon, tmp_path, release_pub):
    assert "missing" in _refused(_run(daemon, DAEMON, tmp_path / "absent.record", release_pub))


def test_a_record_is_not_trusted_unless_a_key_is_named_or_unsigned_is_allowed(daemon, record, release_pub):
    with pytest.raises(TrustPolicyError, match="name the minisign public key"):
        check_self(record, binary=daemon)
    with pytest.raises(TrustPolicyError, match="not both"):
        check_self(record, public_key=release_pub, allow_unsigned=True, binary=daemon)
    assert check_self(record, allow_unsigned=True, binary=daemon).signer is None


def test_a_record_of_the_executable_alone_is_refused_in_a_plain_interpreter(daemon, record, release_pub):
    checking = "import sys; from signing.selfcheck import check_self; check_self(sys.argv[1], public_key=sys.argv[2])"
    assert "this process is a Python interpreter" in _refused(_run(daemon, checking, record, release_pub))


def test_a_record_of_format_1_is_refused_saying_how_to_record_again(daemon, tmp_path):
    path = tmp_path / "old.record"
    path.write_bytes(
        canonical_json(
            {
                "algorithm": "sha256",
                "digest": _sha256(daemon),
                "format": 1,
                "name": "daemon",
                "packseal_version": "0.1.0",
                "size": daemon.stat().st_size,
            }
        )
    )
    with pytest.raises(SelfCheckError, match=r"record format 1 is not format 3.*record again with `packseal self"):
        check_self(path, allow_unsigned=True, binary=daemon)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("directory", "directory, not a regular file"),
        ("fifo", "FIFO, not a regular file"),
        ("below-a-file", "Not a directory"),
    ],
)
def test_an_unreadable_binary_is_a_one_line_refusal(tmp_path, kind, reason):
    binary = tmp_path / "binary"
    if kind == "directory":
        binary.mkdir()
    elif kind == "fifo":
        os.mkfifo(binary)
    else:
        binary.write_bytes(b"a file")
        binary = binary / "child"
    path = tmp_path / "self.record"
    record_self(sys.executable, path)
    with pytest.raises(SelfCheckError, match=f"^{binary}: {reason}$"):
        check_self(path, allow_unsigned=True, binary=binary)
    with pytest.raises(BundleError, match=f"^{binary}: {reason}$"):
        record_self(binary, tmp_path / "other.record")


@pytest.mark.parametrize("document", [[], "record", 1, None], ids=["list", "string", "number", "null"])
def test_a_record_that_is_not_an_object_is_refused(daemon, tmp_path, document):
    path = tmp_path / "self.record"
    path.write_bytes(canonical_json(document))
    with pytest.raises(SelfCheckError, match="must be a JSON object"):
        check_self(path, allow_unsigned=True, binary=daemon)


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
        check_self(path, allow_unsigned=True, binary=daemon)


_DIGEST = {"sha256": "0" * 64, "size": 0}
_PYTHON = {"libraries": [], "script": {"name": "run.py", **_DIGEST}}


def _distribution(files):
    return {"python": {**_PYTHON, "distributions": [{"name": "x", "version": "1", "files": files}]}}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"format": 2.5}, "record format 2.5 is not format 3"),
        ({"format": 2}, "record format 2 is not format 3"),
        ({"algorithm": "sha512"}, "unsupported algorithm"),
        ({"executable": {"name": "daemon", "sha256": "AB" * 32, "size": 1}}, "64 lowercase hex"),
        ({"executable": {"name": "daemon", "sha256": "0" * 64, "size": -1}}, "non-negative integer"),
        ({"executable": {"name": "daemon", "sha256": "0" * 64, "size": True}}, "non-negative integer"),
        ({"executable": {"name": "", **_DIGEST}}, "non-empty string"),
        ({"extra": 1}, "unknown fields \\['extra'\\]"),
        (_distribution([{"path": "/etc/passwd", **_DIGEST}]), "must be a relative POSIX path"),
        (_distribution([{"path": "b", **_DIGEST}, {"path": "a", **_DIGEST}]), "not sorted, or an entry repeats"),
        (_distribution([{"path": "a", **_DIGEST}, {"path": "a", **_DIGEST}]), "not sorted, or an entry repeats"),
        (_distribution({}), "files: must be a JSON list"),
        (_distribution(""), "files: must be a JSON list"),
        (_distribution([]), "files must not be empty"),
        (_distribution([{"path": "a.py", **_DIGEST}]), "must list its bytecode digests"),
        (_distribution([{"path": "a.txt", "bytecode": [], **_DIGEST}]), "must list its bytecode digests"),
        (_distribution([{"path": "a.py", "bytecode": ["x"], **_DIGEST}]), "bytecode digests must be 64"),
        (_distribution([{"path": "a.py", "bytecode": ["0" * 64], **_DIGEST}]), "one digest per optimization level"),
        ({"python": {"libraries": {}, "distributions": []}}, "must be a JSON list"),
        ({"python": {"libraries": [], "distributions": [], "script": ""}}, "must be a JSON object"),
    ],
)
def test_malformed_record_is_refused(daemon, tmp_path, change, reason):
    path = tmp_path / "self.record"
    record_self(daemon, path)
    path.write_bytes(canonical_json({**json.loads(path.read_bytes()), **change}))
    with pytest.raises(SelfCheckError, match=reason):
        check_self(path, allow_unsigned=True, binary=daemon)


def test_record_missing_a_field_is_refused(daemon, tmp_path):
    path = tmp_path / "self.record"
    record_self(daemon, path)
    fields = json.loads(path.read_bytes())
    del fields["executable"]["size"]
    path.write_bytes(canonical_json(fields))
    with pytest.raises(SelfCheckError, match="missing fields \\['size'\\]"):
        check_self(path, allow_unsigned=True, binary=daemon)


def test_record_not_in_canonical_form_is_refused(daemon, tmp_path):
    path = tmp_path / "self.record"
    record_self(daemon, path)
    path.write_bytes(json.dumps(json.loads(path.read_bytes()), indent=1).encode())
    with pytest.raises(SelfCheckError, match="canonical form"):
        check_self(path, allow_unsigned=True, binary=daemon)


def test_unsigned_record_refuses_to_leave_a_stale_signature_beside_it(daemon, record):
    signature = signature_path(record).read_bytes()
    with pytest.raises(OutputError, match="would not cover"):
        record_self(daemon, record)
    assert signature_path(record).read_bytes() == signature


def test_without_proc_self_exe_the_interpreter_is_checked(tmp_path, monkeypatch):
    path = tmp_path / "self.record"
    record_self(sys.executable, path)
    monkeypatch.setattr(selfcheck, "RUNNING_IMAGE", tmp_path / "no-proc")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert check_self(path, allow_unsigned=True).executable == sys.executable


def test_a_keyring_is_accepted_as_the_public_key(daemon, record, key_pair):
    result = check_self(record, public_key=MinisignKeyring([key_pair.public_key]), binary=daemon)
    assert str(result.signer) == f"minisign key {key_id(key_pair.public_key)}"


# --- imports: the check must stay cheap ------------------------------------


def test_check_imports_neither_sigstore_protobuf_click_nor_rich(daemon, record, release_pub):
    code = (
        "import sys; sys.frozen = True; from signing.selfcheck import check_self; "
        "check_self(sys.argv[1], public_key=sys.argv[2]); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sigstore', 'google', 'click', 'rich'}))"
    )
    result = _run(daemon, code, record, release_pub)
    assert result.stdout.strip() == "[]", result.stderr


# --- the `packseal self` commands --------------------------------------------


def test_cli_record_then_check_from_the_running_binary(daemon, tmp_path):
    keys = generate_key_pair(tmp_path / "keys", "release", None)
    path = tmp_path / "cli.record"
    made = _run(daemon, CLI, "self", "record", "--binary", daemon, "--out", path, "--minisign-key", keys.secret_key)
    assert made.returncode == 0 and f"wrote {signature_path(path)}" in made.stdout, made.stderr
    checked = _run(
        daemon,
        CLI,
        "self",
        "check",
        "--record",
        path,
        "--binary",
        daemon,
        "--minisign-pubkey",
        keys.public_key,
        "--json",
    )
    assert checked.returncode == 0, checked.stderr
    reported = json_output.parse(checked.stdout)
    assert (reported["verified"], reported["executable"], reported["digest"]) == (
        True,
        str(daemon),
        f"sha256:{_sha256(daemon)}",
    )
    assert reported["signers"] == [{"system": "minisign", "key_id": keys.key_id}]


def test_cli_mismatch_exits_1_with_both_digests_on_one_line(daemon, trojan, record, release_pub):
    checked = _run(
        trojan, CLI, "self", "check", "--record", record, "--binary", trojan, "--minisign-pubkey", release_pub, "--json"
    )
    assert checked.returncode == 1
    [line] = checked.stderr.splitlines()
    assert line.startswith(f"packseal: error: {trojan}: sha256:")
    assert _sha256(trojan) in line and _sha256(daemon) in line
    refused = json_output.parse(checked.stdout)
    assert (refused["verified"], refused["exit_code"]) == (False, 1)


@pytest.mark.parametrize("problem", ["missing", "malformed", "unsigned"])
def test_cli_fails_closed_with_exit_1(daemon, tmp_path, release_pub, problem):
    path = tmp_path / "self.record"
    if problem != "missing":
        record_self(daemon, path)
    if problem == "malformed":
        path.write_bytes(b"{")
    checked = _run(daemon, CLI, "self", "check", "--record", path, "--binary", daemon, "--minisign-pubkey", release_pub)
    assert checked.returncode == 1 and checked.stdout == ""
    assert checked.stderr.startswith("packseal: error: ") and len(checked.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    "arguments",
    [[], ["--python"], ["--binary", "x", "--python", "--script", "x"], ["--binary", "x", "--script", "x"]],
    ids=["nothing-named", "python-without-its-entry", "both", "script-without-python"],
)
def test_cli_check_without_what_to_check_is_a_usage_error(daemon, record, release_pub, arguments):
    checked = _run(daemon, CLI, "self", "check", "--record", record, "--minisign-pubkey", release_pub, *arguments)
    assert checked.returncode == 2 and checked.stdout == ""
    assert "name what to check: --binary FILE, or --python --script PATH" in checked.stderr


def test_cli_check_without_a_key_is_a_usage_error_unless_unsigned_is_allowed(daemon, record):
    checked = _run(daemon, CLI, "self", "check", "--record", record, "--binary", daemon)
    assert checked.returncode == 2 and "--minisign-pubkey" in checked.stderr and "--allow-unsigned" in checked.stderr
    allowed = _run(daemon, CLI, "self", "check", "--record", record, "--binary", daemon, "--allow-unsigned")
    assert allowed.returncode == 0 and "UNSIGNED record, trusted by --allow-unsigned" in allowed.stdout
