"""Installers that wait on one install directory's lock together: refused ones leave no trace, the others all land.

The lock is the state directory, which a refused install that created it
removes: an installer waiting on it must then start over on the one the
next installer makes, or it would hold a lock no later installer sees.
The test holds the lock on a state directory it created while the
installers start, and lets them go once every one is waiting on it
(`/proc/locks`): the directory they wait on is then removed, as a
refused install's is.
"""

import contextlib
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from installs import OLD_PACK, signed_pack
from unprivileged import run_python_unprivileged

from signing.staging import InstallState

_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import minisign
    from signing.backends.minisign import MinisignKeyring
    from signing.errors import InstallRefused
    from signing.installer import install
    from signing.policy import TrustPolicy

    source, dest, key = map(Path, sys.argv[1:])
    policy = TrustPolicy((MinisignKeyring([minisign.PublicKey.from_base64(key.read_bytes())]),))
    try:
        install(source, dest, policy)
    except InstallRefused:
        sys.exit(3)
    """
)


def waiting_on(path: Path) -> int:
    """How many processes wait for a lock on `path` (`->` lines of `/proc/locks` naming its inode)."""
    inode = f":{path.stat().st_ino} "
    return sum(1 for line in Path("/proc/locks").read_text().splitlines() if "->" in line and inode in line)


@pytest.mark.slow
def test_installers_waiting_together_land_every_trusted_bundle_and_nothing_else(
    tmp_path, dest, key_pair, other_key_pair, monkeypatch
):
    monkeypatch.setenv("PACKSEAL_HOME", str(tmp_path / "home"))
    key = tmp_path / "key.b64"
    key.write_bytes(key_pair.public_key.to_base64())
    sources = {
        "trusted-a": signed_pack(tmp_path / "a" / "pack-a", OLD_PACK, key_pair),
        "untrusted-x": signed_pack(tmp_path / "x" / "evil-x", OLD_PACK, other_key_pair),
        "trusted-b": signed_pack(tmp_path / "b" / "pack-b", OLD_PACK, key_pair),
        "untrusted-y": signed_pack(tmp_path / "y" / "evil-y", OLD_PACK, other_key_pair),
    }

    with InstallState(dest).prepared():
        children = {
            name: subprocess.Popen([sys.executable, "-c", _CHILD, str(source), str(dest), str(key)])
            for name, source in sources.items()
        }
        deadline = time.monotonic() + 60
        while waiting_on(dest / ".packseal-installs") < len(children):
            assert time.monotonic() < deadline, "the installers never all waited on the lock"
            assert all(child.poll() is None for child in children.values()), "an installer ended without the lock"
            time.sleep(0.02)
        assert os.listdir(dest) == [".packseal-installs"], "nothing but the state directory before its lock is held"
        assert os.listdir(dest / ".packseal-installs") == []
    statuses = {name: child.wait(timeout=60) for name, child in children.items()}

    assert statuses == {"trusted-a": 0, "untrusted-x": 3, "trusted-b": 0, "untrusted-y": 3}
    assert sorted(path.name for path in dest.iterdir()) == [".packseal-installs", "pack-a", "pack-b"]
    assert sorted(path.name for path in (dest / ".packseal-installs").iterdir()) == ["pack-a.json", "pack-b.json"]


def holding_lock(path: Path) -> bool:
    """Whether a process holds a lock on `path` (a `/proc/locks` line naming its inode that is not waiting)."""
    inode = f":{path.stat().st_ino} "
    return any("->" not in line and inode in line for line in Path("/proc/locks").read_text().splitlines())


@pytest.fixture
def shared_dest():
    """An empty install directory any user can read and search, as `/usr/local/lib/x` is: not below tmp_path (0700)."""
    with tempfile.TemporaryDirectory(prefix="packseal-shared-") as parent:
        Path(parent).chmod(0o755)
        dest = Path(parent) / "plugins"
        dest.mkdir(mode=0o755)
        yield dest


@pytest.mark.skipif(os.geteuid() != 0, reason="running a process as another user needs root")
def test_another_user_who_can_read_dest_cannot_hold_up_its_installs(tmp_path, shared_dest, key_pair, monkeypatch):
    """Anyone who can open DEST can `flock` it: the lock must be on something only the installing user can open."""
    monkeypatch.setenv("PACKSEAL_HOME", str(tmp_path / "home"))
    key = tmp_path / "key.b64"
    key.write_bytes(key_pair.public_key.to_base64())
    source = signed_pack(tmp_path / "src" / "pack", OLD_PACK, key_pair)
    other = subprocess.Popen(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "flock", "-x", str(shared_dest), "sleep", "120"]
    )
    try:
        deadline = time.monotonic() + 30
        while not holding_lock(shared_dest):
            assert time.monotonic() < deadline and other.poll() is None, "the other user never locked DEST"
            time.sleep(0.02)

        installer = subprocess.run([sys.executable, "-c", _CHILD, str(source), str(shared_dest), str(key)], timeout=30)
    finally:
        other.kill()
        other.wait()

    assert installer.returncode == 0
    assert sorted(os.listdir(shared_dest)) == [".packseal-installs", "pack"]


def test_an_install_directory_its_user_can_write_and_search_but_not_read_takes_installs(tmp_path, dest, key_pair):
    """Mode 0300: landing needs only write and search in DEST; the lock must not need to read it."""
    key = tmp_path / "key.b64"
    key.write_bytes(key_pair.public_key.to_base64())
    source = signed_pack(tmp_path / "src" / "pack", OLD_PACK, key_pair)
    dest.chmod(0o300)

    child = run_python_unprivileged(
        f"""
        import os, sys
        os.environ["PACKSEAL_HOME"] = {str(tmp_path / "home")!r}
        sys.argv[1:] = [{str(source)!r}, {str(dest)!r}, {str(key)!r}]
        exec({_CHILD!r})
        from signing.installer import read_installed
        print(read_installed(sys.argv[2], "pack").name)
        """
    )

    dest.chmod(0o700)
    assert (child.returncode, child.stdout, child.stderr) == (0, "pack\n", "")
    assert sorted(os.listdir(dest)) == [".packseal-installs", "pack"]


@pytest.mark.slow
def test_an_installer_waiting_on_a_dest_that_is_then_replaced_waits_on_the_new_one(tmp_path, dest, key_pair):
    """A lock counts only while the path names what was locked: else the waiter works beside the new DEST's holder."""
    key = tmp_path / "key.b64"
    key.write_bytes(key_pair.public_key.to_base64())
    source = signed_pack(tmp_path / "src" / "pack", OLD_PACK, key_pair)
    environment = {**os.environ, "PACKSEAL_HOME": str(tmp_path / "home")}

    with contextlib.ExitStack() as new_holder:
        with InstallState(dest).prepared():
            child = subprocess.Popen([sys.executable, "-c", _CHILD, str(source), str(dest), str(key)], env=environment)
            deadline = time.monotonic() + 60
            while waiting_on(dest / ".packseal-installs") < 1:
                assert time.monotonic() < deadline and child.poll() is None, "the installer never waited on the lock"
                time.sleep(0.02)
            dest.rename(tmp_path / "replaced")
            dest.mkdir()
            new_holder.enter_context(InstallState(dest).prepared())
        while waiting_on(dest / ".packseal-installs") < 1:
            assert time.monotonic() < deadline, "the installer did not go on to wait on the new DEST's lock"
            assert child.poll() is None, "the installer worked in the new DEST without its lock"
            time.sleep(0.02)
        assert os.listdir(dest) == [".packseal-installs"]

    assert child.wait(timeout=60) == 0
    assert sorted(os.listdir(dest)) == [".packseal-installs", "pack"]
