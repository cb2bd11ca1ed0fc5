"""A replacing install killed (SIGKILL) at each step of its landing leaves the old or the new bundle, never a mix.

The child is a real `install` in its own process. It counts each step of
the landing that changes the disk (journal, swap, rename, removal) by
wrapping `signing.landing`'s functions, and kills itself with SIGKILL
before step k: a test-only seam inside the test's own child, so packseal
itself has no crash switch. With `fallback`, renameat2 reports what a
filesystem without it reports, so the two-rename path runs.
"""

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from installs import NEW_PACK, OLD_PACK, signed_pack
from trees import snapshot

from signing.installer import install, read_installed
from signing.verify import verify_bundle

_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import minisign
    import signing.landing as landing
    from signing.backends.minisign import MinisignKeyring
    from signing.installer import install
    from signing.policy import TrustPolicy

    kill_at, mode, source, dest, key = int(sys.argv[1]), sys.argv[2], *map(Path, sys.argv[3:])
    steps = 0

    def counted(function):
        def step(*args, **kwargs):
            global steps
            steps += 1
            if steps == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return function(*args, **kwargs)
        return step

    if mode == "fallback":
        landing._renameat2 = lambda source, target, flags: False
    for name in ("_write_journal", "_exchange", "_rename", "_rename_noreplace", "_remove_tree"):
        setattr(landing, name, counted(getattr(landing, name)))
    policy = TrustPolicy((MinisignKeyring([minisign.PublicKey.from_base64(key.read_bytes())]),))
    install(source, dest, policy)
    """
)


def run_child(kill_at: int, mode: str, source: Path, dest: Path, key: Path) -> int:
    argv = [sys.executable, "-c", _CHILD, str(kill_at), mode, str(source), str(dest), str(key)]
    return subprocess.run(argv, capture_output=True, timeout=60, check=False).returncode


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["exchange", "fallback"])
def test_a_kill_at_each_step_leaves_the_old_or_the_new_bundle(tmp_path, key_pair, policy, mode, monkeypatch):
    monkeypatch.setenv("PACKSEAL_HOME", str(tmp_path / "home"))
    key = tmp_path / "key.b64"
    key.write_bytes(key_pair.public_key.to_base64())
    old = signed_pack(tmp_path / "v1" / "pack", OLD_PACK, key_pair)
    new = signed_pack(tmp_path / "v2" / "pack", NEW_PACK, key_pair)
    versions = {"old": snapshot(old), "new": snapshot(new)}
    digests = {"old": verify_bundle(old, policy).digest, "new": verify_bundle(new, policy).digest}
    outcomes = []
    for kill_at in range(1, 30):
        dest = tmp_path / f"dest-{kill_at}"
        dest.mkdir()
        install(old, dest, policy)
        status = run_child(kill_at, mode, new, dest, key)
        if status == 0:
            break
        assert status == -signal.SIGKILL
        if mode == "exchange":
            assert snapshot(dest / "pack") in versions.values(), f"a mix at DEST/pack after a kill at step {kill_at}"

        record = read_installed(dest, "pack")  # finishes or undoes the landing first

        landed = next(name for name, tree in versions.items() if snapshot(dest / "pack") == tree)
        assert record is not None and record.digest == digests[landed], "the record names what landed"
        assert not list((dest / ".packseal-installs").glob("stage-*"))
        assert snapshot(dest / "pack") == versions[landed]
        outcomes.append(landed)
        install(new, dest, policy)
        assert snapshot(dest / "pack") == versions["new"], "the next install must still work"
    else:
        pytest.fail("the child was killed at every step tried; did it ever finish?")
    print(mode, outcomes)
    assert outcomes[0] == "old" and outcomes[-1] == "new", outcomes
    assert len(outcomes) >= (3 if mode == "exchange" else 5), outcomes
