"""Fixtures for the end-to-end tests of the `packseal` command line.

What is tested is the contract a maintainer and an installer see: exit
codes, the one error line on stderr, the verdict on stdout, and the files
on disk. `packseal(...)` runs the console script's entry point in this
process (`console_script.run_in_process`: the same exit status and output
as a child, without its start-up cost); `spawn_packseal(...)` runs the
installed script as a child, for tests of the process boundary itself, and
so does `packseal(..., unprivileged=True)`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import json_output
import pytest
from console_script import run_as_child, run_in_process
from trees import Snapshot, snapshot
from unprivileged import obey_file_modes

MINISIGN = shutil.which("minisign") or "/usr/bin/minisign"
PASSWORD = "correct horse battery staple"

# A composed and a decomposed spelling of the same visible name.
CAFE_NFC = unicodedata.normalize("NFC", "café.txt")
CAFE_NFD = unicodedata.normalize("NFD", "café.txt")
NON_ASCII_PATH = f"données/{CAFE_NFC}"

# The sample pack: relative path -> (content, mode) for files, or link target.
PACK_FILES: dict[str, tuple[bytes, int]] = {
    "README.md": (b"# Sample pack\n", 0o644),
    "bin/run.sh": (b"#!/bin/sh\necho 'hello from the pack'\n", 0o755),
    "docs/guide.md": (b"Read me first.\n", 0o644),
    "data/nested/deep/blob.bin": (bytes(range(256)) * 4, 0o644),
    NON_ASCII_PATH: ("Ceci est un café.\n".encode(), 0o644),
    "empty.txt": (b"", 0o644),
}
PACK_LINKS: dict[str, str] = {"docs/latest.md": "guide.md"}
DIR_CHECKS = ["layout", "signature", "statement", "files"]


# --- running the command -------------------------------------------------


def _environment(env: dict[str, str] | None) -> dict[str, str]:
    """This process's environment without an inherited password, plus `env`."""
    return {k: v for k, v in os.environ.items() if k != "PACKSEAL_PASSWORD"} | (env or {})


def run_command(
    argv: list[str],
    *,
    input: str | bytes | None = None,
    env: dict[str, str] | None = None,
    unprivileged: bool = False,
    timeout: float = 120,
) -> subprocess.CompletedProcess:
    """Run argv with stdin that is never a TTY and no inherited password."""
    kwargs: dict[str, Any] = {}
    if input is None:
        kwargs["stdin"] = subprocess.DEVNULL
    else:
        kwargs["input"] = input
    if unprivileged and os.geteuid() == 0:
        kwargs["preexec_fn"] = obey_file_modes
    return subprocess.run(
        argv,
        capture_output=True,
        text=not isinstance(input, bytes),
        env=_environment(env),
        timeout=timeout,
        **kwargs,
    )


def packseal(
    *args: Any,
    input: str | bytes | None = None,
    env: dict[str, str] | None = None,
    unprivileged: bool = False,
    timeout: float = 120,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess:
    """Run `packseal args...` in this process; `unprivileged` (file modes bind even for root) needs a child."""
    if unprivileged:
        return spawn_packseal(*args, input=input, env=env, unprivileged=True, timeout=timeout, cwd=cwd)
    return run_in_process(
        args, env=_environment(env), input=input, text=not isinstance(input, bytes), cwd=cwd, timeout=timeout
    )


def spawn_packseal(
    *args: Any,
    input: str | bytes | None = None,
    env: dict[str, str] | None = None,
    unprivileged: bool = False,
    timeout: float = 120,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess:
    """Run the installed `packseal` script as a child process: for tests of the process boundary itself."""
    return run_as_child(
        args,
        env=_environment(env),
        input=input,
        text=not isinstance(input, bytes),
        cwd=cwd,
        timeout=timeout,
        preexec_fn=obey_file_modes if unprivileged and os.geteuid() == 0 else None,
    )


def minisign(*args: Any, **kwargs: Any) -> subprocess.CompletedProcess:
    return run_command([MINISIGN, *map(str, args)], **kwargs)


@pytest.fixture
def run_packseal() -> Callable[..., subprocess.CompletedProcess]:
    """`run_packseal(*args, input=None, env=None)` -> CompletedProcess."""
    return packseal


@pytest.fixture
def run_minisign() -> Callable[..., subprocess.CompletedProcess]:
    return minisign


def describe(result: subprocess.CompletedProcess) -> str:
    """Everything a failing assertion should show about a run."""
    return f"argv: {result.args}\nexit: {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


# --- the sample pack -----------------------------------------------------


def build_pack(root: Path) -> Path:
    """Write the sample pack at root: nested dirs, an executable, a link."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, (content, mode) in PACK_FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        path.chmod(mode)
    for rel, target in PACK_LINKS.items():
        (root / rel).symlink_to(target)
    return root


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    """An unsigned sample pack directory."""
    return build_pack(tmp_path / "pack")


@pytest.fixture
def single_file(tmp_path: Path) -> Path:
    path = tmp_path / "release" / "tool-1.0.tar.gz"
    path.parent.mkdir()
    path.write_bytes(b"not really a tarball\n" * 100)
    return path


# --- snapshots -----------------------------------------------------------


@pytest.fixture
def tree_snapshot() -> Callable[[Path], Snapshot]:
    return snapshot


# --- keys ----------------------------------------------------------------


@dataclass(frozen=True)
class KeyPair:
    key: Path
    pub: Path
    password: str | None = None

    def copy_to(self, directory: Path) -> KeyPair:
        directory.mkdir(parents=True, exist_ok=True)
        key = Path(shutil.copy2(self.key, directory / self.key.name))
        pub = Path(shutil.copy2(self.pub, directory / self.pub.name))
        return KeyPair(key, pub, self.password)


def key_id_forms(pub: Path) -> tuple[str, str]:
    """The key id as minisign 0.11 prints it (no leading zeros), and as the raw bytes in hex."""
    raw = base64.b64decode(pub.read_text().splitlines()[1])[2:10]
    return f"{int.from_bytes(raw, 'little'):X}", raw.hex().upper()


def names_key_id(text: str, pub: Path) -> bool:
    return any(form in text.upper() for form in key_id_forms(pub))


def _packseal_keygen(directory: Path, name: str, password: str | None) -> KeyPair:
    args = ["keygen", "--output-dir", directory, "--name", name]
    env = None
    if password is None:
        args.append("--no-password")
    else:
        env = {"PACKSEAL_PASSWORD": password}
    result = packseal(*args, env=env)
    assert result.returncode == 0, describe(result)
    return KeyPair(directory / f"{name}.key", directory / f"{name}.pub", password)


@pytest.fixture(scope="session")
def key_store(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., KeyPair]:
    """Make each named key pair once per session; scrypt is slow.

    `key_store("trusted")` is an unencrypted pair from `packseal keygen`;
    `key_store("locked", password=PASSWORD)` an encrypted one.
    """
    directory = tmp_path_factory.mktemp("session-keys")
    made: dict[str, KeyPair] = {}

    def get(name: str, password: str | None = None) -> KeyPair:
        if name not in made:
            made[name] = _packseal_keygen(directory, name, password)
        assert made[name].password == password
        return made[name]

    return get


@pytest.fixture
def keys(tmp_path: Path, key_store: Callable[..., KeyPair]) -> KeyPair:
    """A private copy of the session's trusted, unencrypted key pair."""
    return key_store("trusted").copy_to(tmp_path / "keys")


@pytest.fixture
def other_keys(tmp_path: Path, key_store: Callable[..., KeyPair]) -> KeyPair:
    """A second unencrypted key pair that nobody trusts by default."""
    return key_store("other").copy_to(tmp_path / "other-keys")


class _StockKeyPairs(dict[str, KeyPair]):
    """`plain` and `locked` key pairs, each made by `minisign -G` when first asked for.

    Without a TTY, `minisign -G` reads the password and its confirmation as
    two lines of stdin; `-W` makes a key with no password. `locked` is
    encrypted at stock cost: seconds to make and to unlock.
    """

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self._directory = directory

    def __missing__(self, name: str) -> KeyPair:
        password = {"plain": None, "locked": PASSWORD}[name]
        pair = KeyPair(self._directory / f"{name}.key", self._directory / f"{name}.pub", password)
        extra, stdin = (["-W"], None) if password is None else ([], f"{password}\n{password}\n")
        result = minisign("-G", *extra, "-p", pair.pub, "-s", pair.key, input=stdin)
        assert result.returncode == 0, describe(result)
        self[name] = pair
        return pair


@pytest.fixture(scope="session")
def stock_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, KeyPair]:
    """Key pairs made by the stock minisign binary, with and without password."""
    return _StockKeyPairs(tmp_path_factory.mktemp("stock-keys"))


# --- signing and verifying -----------------------------------------------


def sign_ok(path: Path, keys: KeyPair, *extra: Any, **kwargs: Any) -> None:
    result = packseal("sign", path, "--minisign-key", keys.key, *extra, **kwargs)
    assert result.returncode == 0, describe(result)


def verify(path: Path, *pubs: Path, extra: tuple = (), **kwargs: Any):
    args: list[Any] = ["verify-bundle", path]
    for pub in pubs:
        args += ["--minisign-pubkey", pub]
    return packseal(*args, *extra, **kwargs)


def verify_json(path: Path, *pubs: Path, extra: tuple = ()) -> tuple[Any, dict]:
    """Run verify-bundle --json; return (result, parsed verdict)."""
    result = verify(path, *pubs, extra=(*extra, "--json"))
    assert result.returncode in (0, 1), describe(result)
    assert "Traceback" not in result.stderr, describe(result)
    try:
        verdict = json_output.parse(result.stdout)
    except json.JSONDecodeError as err:
        pytest.fail(f"--json stdout is not JSON ({err})\n{describe(result)}")
    assert verdict["verified"] is (result.returncode == 0), describe(result)
    return result, verdict


@pytest.fixture
def signed_pack(pack: Path, keys: KeyPair) -> Path:
    sign_ok(pack, keys)
    return pack


@pytest.fixture
def signed_file(single_file: Path, keys: KeyPair) -> Path:
    sign_ok(single_file, keys)
    return single_file


def assert_refused_at(verdict: dict, failed_check: str, dir_bundle: bool = True) -> dict:
    """Checks run in order and stop at the first failure; return it."""
    order = DIR_CHECKS if dir_bundle else ["signature"]
    expected = order[: order.index(failed_check) + 1]
    names = [check["name"] for check in verdict["checks"]]
    assert names == expected, verdict
    assert [check["ok"] for check in verdict["checks"]] == [True] * (len(expected) - 1) + [False], verdict
    assert verdict["verified"] is False
    return verdict["checks"][-1]


FILE_PROBLEM_KINDS = (
    "executable bit changed",
    "link target changed",
    "type changed",
    "changed",
    "missing",
    "extra",
)
_KIND_RE = re.compile("(?<![A-Za-z])(" + "|".join(FILE_PROBLEM_KINDS) + "): ")


def file_problems(detail: str) -> set[tuple[str, str]]:
    """Parse a `files` check detail into {(kind, relative path)}."""
    matches = list(_KIND_RE.finditer(detail))
    problems = set()
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        end = following.start() if following else len(detail)
        path = detail[match.end() : end].strip().rstrip(",;").strip().strip("'\"`")
        problems.add((match.group(1), unicodedata.normalize("NFC", path)))
    return problems


# --- crafting manifests --------------------------------------------------

MANIFEST = Path(".packseal/manifest.json")
MANIFEST_SIG = Path(".packseal/manifest.json.minisig")


def find_file_list(node: Any) -> list | None:
    """The manifest's file list: the first list of objects with a `path`."""
    if isinstance(node, list):
        if node and all(isinstance(item, dict) and "path" in item for item in node):
            return node
        children = node
    elif isinstance(node, dict):
        children = node.values()
    else:
        return None
    for child in children:
        found = find_file_list(child)
        if found is not None:
            return found
    return None


def _tree_digest(entries: list) -> str:
    import rfc8785

    return hashlib.sha256(rfc8785.dumps(entries)).hexdigest()


def tree_digest_of(bundle: Path) -> str:
    statement = json.loads((bundle / MANIFEST).read_bytes())
    entries = find_file_list(statement["predicate"])
    assert entries is not None, statement
    return _tree_digest(entries)


def trusted_comment(signature_file: Path) -> str:
    line = signature_file.read_text().splitlines()[2]
    assert line.startswith("trusted comment: "), line
    return line.removeprefix("trusted comment: ")


def resign_manifest(bundle: Path, keys: KeyPair, data: bytes, comment: str) -> None:
    """Sign data with keys as `.packseal/manifest.json`, like packseal would."""
    import minisign as pyminisign

    secret = pyminisign.SecretKey.from_file(keys.key)
    signature = secret.sign(data, prehash=True, trusted_comment=comment)
    (bundle / MANIFEST).write_bytes(data)
    (bundle / MANIFEST_SIG).write_bytes(bytes(signature) + b"\n")


def craft_manifest(bundle: Path, keys: KeyPair, edit: Callable[[list], None]) -> None:
    """Edit the signed manifest's file list, fix its digest, re-sign it.

    The edit gets the list of file entries; afterwards the list is sorted by
    path bytes, the tree digest is replaced wherever the old one appeared
    (statement and default trusted comment), the statement is re-serialised
    as RFC 8785 JSON and signed with the trusted key, so only the edit itself
    is wrong with the result.
    """
    import rfc8785

    statement = json.loads((bundle / MANIFEST).read_bytes())
    entries = find_file_list(statement["predicate"])
    assert entries is not None, statement
    old = _tree_digest(entries)
    edit(entries)
    entries.sort(key=lambda entry: entry["path"].encode())
    new = _tree_digest(entries)
    data = rfc8785.dumps(statement).replace(old.encode(), new.encode())
    comment = trusted_comment(bundle / MANIFEST_SIG).replace(old, new)
    resign_manifest(bundle, keys, data, comment)


def entry_for(entries: list, path: str) -> dict:
    for entry in entries:
        if entry["path"] == path:
            return entry
    raise AssertionError(f"no manifest entry for {path!r}: {entries}")


def retarget_link_entry(entry: dict, old_target: str, new_target: str) -> None:
    """Set the link target recorded in a manifest entry, whatever its key."""
    keys_with_target = [key for key, value in entry.items() if value == old_target]
    assert keys_with_target, entry
    for key in keys_with_target:
        entry[key] = new_target


# --- read-only directories -----------------------------------------------


@pytest.fixture
def make_read_only() -> Callable[[Path], None]:
    """chmod a directory 0555 for the test, and give it back afterwards."""
    changed: list[Path] = []

    def apply(directory: Path) -> None:
        directory.chmod(0o555)
        changed.append(directory)

    yield apply
    for directory in changed:
        directory.chmod(0o755)


@pytest.fixture(scope="session")
def cli() -> SimpleNamespace:
    """The helpers above, for test modules (tests/ is not a package)."""
    return SimpleNamespace(
        PASSWORD=PASSWORD,
        CAFE_NFC=CAFE_NFC,
        CAFE_NFD=CAFE_NFD,
        NON_ASCII_PATH=NON_ASCII_PATH,
        PACK_FILES=PACK_FILES,
        PACK_LINKS=PACK_LINKS,
        DIR_CHECKS=DIR_CHECKS,
        MANIFEST=MANIFEST,
        MANIFEST_SIG=MANIFEST_SIG,
        KeyPair=KeyPair,
        packseal=packseal,
        spawn_packseal=spawn_packseal,
        minisign=minisign,
        describe=describe,
        build_pack=build_pack,
        snapshot=snapshot,
        key_id_forms=key_id_forms,
        names_key_id=names_key_id,
        sign_ok=sign_ok,
        verify=verify,
        verify_json=verify_json,
        assert_refused_at=assert_refused_at,
        file_problems=file_problems,
        find_file_list=find_file_list,
        tree_digest_of=tree_digest_of,
        trusted_comment=trusted_comment,
        resign_manifest=resign_manifest,
        craft_manifest=craft_manifest,
        entry_for=entry_for,
        retarget_link_entry=retarget_link_entry,
    )
