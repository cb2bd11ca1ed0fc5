"""Drift and phantom detection (`signing.watch`) on real trees: each status, cheap and paranoid ticks, signed states."""

import os
from pathlib import Path

import minisign
import pytest

from signing import watch
from signing.backends.minisign import MinisignKeyring
from signing.documents import read_document, write_document
from signing.errors import BundleError, SignatureError, TrustPolicyError
from signing.roles import Role
from signing.sign import sign_with_minisign
from signing.watch import Status, Watcher, record_watch

from .conftest import SAMPLE_TREE

LINK = "acme-tool/docs/latest.md"


@pytest.fixture
def plugins(tmp_path: Path, make_tree, key_pair) -> Path:
    """An installed-bundles directory: two signed bundles, a config file, and packseal's own install state."""
    root = tmp_path / "plugins"
    for name in ("acme-tool", "beta-tool"):
        sign_with_minisign(make_tree(root / name, SAMPLE_TREE), key_pair.secret_key)
    make_tree(root, {"agents.toml": b"[agent]\nname = 'a'\n", "notes.txt": b"not watched\n"})
    make_tree(root / ".packseal-installs", {"acme-tool.json": b"{}"})
    return root


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trust a fingerprint as soon as it is taken, as if every file had been written long before."""
    monkeypatch.setattr(watch, "RACY_NANOSECONDS", 0)


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files `signing.watch` reads the content of, in order."""
    reads: list[Path] = []
    digest = watch.file_digest

    def counting(path, **kwargs):
        reads.append(Path(path))
        return digest(path, **kwargs)

    monkeypatch.setattr(watch, "file_digest", counting)
    return reads


def statuses(report: watch.WatchReport) -> dict[str, Status]:
    return {item.path: item.status for item in report.items}


def test_records_bundles_matching_files_and_install_records_but_not_staging(plugins: Path, make_tree) -> None:
    make_tree(plugins / ".packseal-installs", {"stage-1a2b/bundle/.packseal/manifest.json": b"{}"})
    state = record_watch(plugins)
    assert [(item.kind.value, item.path) for item in state.items] == [
        ("file", ".packseal-installs/acme-tool.json"),
        ("bundle", "acme-tool"),
        ("file", "agents.toml"),
        ("bundle", "beta-tool"),
    ]
    acme = state.items[1]
    assert "acme-tool/.packseal/manifest.json" in {file.path for file in acme.files}
    assert "acme-tool/docs/latest.md" in {file.path for file in acme.files}


def test_unchanged_tree_is_unchanged(plugins: Path) -> None:
    report = Watcher(plugins, record_watch(plugins)).check()
    assert report.unchanged and bool(report)
    assert set(statuses(report).values()) == {Status.UNCHANGED}


def test_a_rewritten_file_is_drift_even_with_its_mtime_and_size_put_back(plugins: Path, settled: None) -> None:
    watcher = Watcher(plugins, record_watch(plugins))
    target = plugins / "acme-tool/bin/run"
    before = target.stat()
    target.write_bytes(b"#!/bin/sh\necho pwned\n"[: before.st_size].ljust(before.st_size, b"#"))
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    report = watcher.check()
    assert statuses(report)["acme-tool"] is Status.DRIFTED
    assert report.changes[0].changed == ("acme-tool/bin/run",)
    assert not report


@pytest.mark.parametrize(
    ("change", "kind", "path"),
    [
        (lambda root: (root / "acme-tool/evil.py").write_bytes(b"import os\n"), "extra", "acme-tool/evil.py"),
        (lambda root: (root / "acme-tool/README.md").unlink(), "missing", "acme-tool/README.md"),
        (lambda root: (root / "acme-tool/README.md").chmod(0o755), "changed", "acme-tool/README.md"),
        (
            lambda root: (
                (root / "acme-tool/docs/latest.md").unlink(),
                (root / "acme-tool/docs/latest.md").symlink_to("x"),
            ),
            "changed",
            LINK,
        ),
        (
            lambda root: (root / "acme-tool/.packseal/manifest.json.minisig").write_bytes(b"forged\n"),
            "changed",
            "acme-tool/.packseal/manifest.json.minisig",
        ),
        (
            lambda root: ((root / "acme-tool/empty.txt").unlink(), os.mkfifo(root / "acme-tool/empty.txt")),
            "changed",
            "acme-tool/empty.txt",
        ),
    ],
    ids=["added-file", "removed-file", "made-executable", "link-retargeted", "signature-replaced", "swapped-for-fifo"],
)
def test_every_kind_of_change_inside_a_bundle_is_drift_naming_the_file(plugins: Path, change, kind, path) -> None:
    watcher = Watcher(plugins, record_watch(plugins))
    change(plugins)
    [drifted] = watcher.check().changes
    assert (drifted.path, drifted.status) == ("acme-tool", Status.DRIFTED)
    assert getattr(drifted, kind) == (path,)
    assert path in drifted.detail


def test_a_new_bundle_or_config_file_anywhere_below_is_a_phantom(plugins: Path, make_tree, other_key_pair) -> None:
    watcher = Watcher(plugins, record_watch(plugins))
    sign_with_minisign(make_tree(plugins / "vendor/evil-pack", {"x.py": b"x"}), other_key_pair.secret_key)
    make_tree(plugins, {"conf.d/extra.json": b"{}", "ignored.md": b"no pattern matches"})
    report = watcher.check()
    assert {item.path: (item.kind.value, item.status) for item in report.changes} == {
        "vendor/evil-pack": ("bundle", Status.PHANTOM),
        "conf.d/extra.json": ("file", Status.PHANTOM),
    }


def test_a_bundle_a_loader_reaches_through_a_link_or_another_spelling_is_a_phantom(
    plugins: Path, tmp_path: Path, make_tree, other_key_pair
) -> None:
    """A loader asking `(d / ".packseal").is_dir()` follows links, and a case-insensitive filesystem folds case."""
    watcher = Watcher(plugins, record_watch(plugins))
    outside = make_tree(tmp_path / "outside/evil-pack", {"x.py": b"x"})
    sign_with_minisign(outside, other_key_pair.secret_key)
    (plugins / "evil-pack").symlink_to(outside)
    make_tree(plugins, {"linked-signatures/x.py": b"x", "linked-signatures/.packseal": str(outside / ".packseal")})
    make_tree(plugins, {"shouting/x.py": b"x", "shouting/.PACKSEAL/manifest.json": b"{}"})
    changes = {item.path: (item.kind.value, item.status) for item in watcher.check().changes}
    assert changes == {
        "evil-pack": ("file", Status.PHANTOM),
        "linked-signatures": ("bundle", Status.PHANTOM),
        "shouting": ("bundle", Status.PHANTOM),
    }


def test_a_linked_directory_is_watched_as_its_link(plugins: Path, tmp_path: Path) -> None:
    (tmp_path / "v1").mkdir()
    (tmp_path / "v2").mkdir()
    (plugins / "vendor").symlink_to(tmp_path / "v1")
    watcher = Watcher(plugins, record_watch(plugins))
    assert watcher.check().unchanged
    (plugins / "vendor").unlink()
    (plugins / "vendor").symlink_to(tmp_path / "v2")
    [drifted] = watcher.check().changes
    assert (drifted.path, drifted.status, drifted.changed) == ("vendor", Status.DRIFTED, ("vendor",))


def test_only_staging_in_packseal_install_state_is_unwatched(plugins: Path, make_tree, other_key_pair) -> None:
    """Install records are watched (one rewritten is drift); a bundle or config hidden beside them is a phantom."""
    watcher = Watcher(plugins, record_watch(plugins))
    make_tree(plugins / ".packseal-installs", {"stage-1a2b/bundle/.packseal/manifest.json": b"{}", "lock": b""})
    sign_with_minisign(make_tree(plugins / ".packseal-installs/evil-pack", {"x.py": b"x"}), other_key_pair.secret_key)
    make_tree(plugins, {"vendor/.packseal-installs/agent.toml": b"[agent]\n"})
    (plugins / ".packseal-installs/acme-tool.json").write_bytes(b'{"highest": "0.0.1"}')
    changes = {item.path: (item.kind.value, item.status) for item in watcher.check().changes}
    assert changes == {
        ".packseal-installs/acme-tool.json": ("file", Status.DRIFTED),
        ".packseal-installs/evil-pack": ("bundle", Status.PHANTOM),
        "vendor/.packseal-installs/agent.toml": ("file", Status.PHANTOM),
    }


def test_a_removed_bundle_and_file_are_reported_removed(plugins: Path) -> None:
    watcher = Watcher(plugins, record_watch(plugins))
    (plugins / "agents.toml").unlink()
    (plugins / "beta-tool/.packseal/manifest.json").unlink()
    (plugins / "beta-tool/.packseal/manifest.json.minisig").unlink()
    (plugins / "beta-tool/.packseal").rmdir()
    changes = {item.path: item.status for item in watcher.check().changes}
    assert changes == {"agents.toml": Status.REMOVED, "beta-tool": Status.REMOVED}


def test_a_settled_unchanged_tick_reads_no_file(plugins: Path, settled: None, hashed: list[Path]) -> None:
    watcher = Watcher(plugins, record_watch(plugins))
    hashed.clear()
    assert watcher.check().unchanged
    assert hashed == []


def test_paranoid_reads_every_file_every_tick(plugins: Path, settled: None, hashed: list[Path]) -> None:
    state = record_watch(plugins)
    regular = [file for item in state.items for file in item.files if file.content.sha256 is not None]
    hashed.clear()
    assert Watcher(plugins, state).check(paranoid=True).unchanged
    assert len(hashed) == len(regular)


def test_a_racy_fingerprint_is_never_trusted_alone(plugins: Path, hashed: list[Path]) -> None:
    """Files written just before the record may be rewritten in the same clock tick: they are hashed."""
    watcher = Watcher(plugins, record_watch(plugins))
    hashed.clear()
    assert watcher.check().unchanged
    assert plugins / "agents.toml" in hashed


def test_a_touched_file_is_hashed_once_then_trusted_again(plugins: Path, settled: None, hashed: list[Path]) -> None:
    watcher = Watcher(plugins, record_watch(plugins))
    os.utime(plugins / "agents.toml")
    hashed.clear()
    assert watcher.check().unchanged
    assert hashed == [plugins / "agents.toml"]
    hashed.clear()
    assert watcher.check().unchanged
    assert hashed == []


def test_state_round_trips_through_its_canonical_bytes(plugins: Path) -> None:
    state = record_watch(plugins)
    assert watch.WatchState.from_bytes(watch.write_state(state), what="state") == state


@pytest.mark.parametrize(
    "edit",
    [
        lambda text: text.replace('"format":1', '"format":2'),
        lambda text: text.replace('"path":"agents.toml"', '"path":"../../etc/passwd"'),
        lambda text: text.replace('"kind":"file"', '"kind":"device"'),
        lambda text: text.replace('"patterns":[', '"extra":1,"patterns":['),
        lambda text: text[:-5],
    ],
    ids=["format", "escaping-path", "unknown-kind", "unknown-key", "truncated"],
)
def test_a_malformed_state_is_refused_in_one_line(plugins: Path, tmp_path: Path, edit) -> None:
    path = tmp_path / "state.json"
    edited = edit(watch.write_state(record_watch(plugins)).decode())
    path.write_text(edited)
    with pytest.raises(TrustPolicyError) as raised:
        watch.read_state(path, allow_unsigned=True)
    assert str(path) in str(raised.value) and "\n" not in str(raised.value)


def test_record_refuses_a_fifo_a_loader_would_read(plugins: Path) -> None:
    os.mkfifo(plugins / "acme-tool/pipe")
    with pytest.raises(BundleError, match="FIFO"):
        record_watch(plugins)


class TestSignedState:
    def write(self, plugins: Path, out: Path, key: minisign.SecretKey | None) -> Path:
        write_document(
            out, watch.write_state(record_watch(plugins)), Role.WATCH_STATE, secret_key=key, description="plugins"
        )
        return out

    def test_a_signed_state_verifies_with_its_key(self, plugins, tmp_path, key_pair) -> None:
        path = self.write(plugins, tmp_path / "state.json", key_pair.secret_key)
        data, signer = read_document(path, Role.WATCH_STATE, public_key=MinisignKeyring([key_pair.public_key]))
        assert signer is not None and watch.WatchState.from_bytes(data, what=str(path))

    def test_read_state_returns_the_state_and_its_signer(self, plugins, tmp_path, key_pair) -> None:
        path = self.write(plugins, tmp_path / "state.json", key_pair.secret_key)
        state, signer = watch.read_state(path, public_key=MinisignKeyring([key_pair.public_key]))
        assert state.items == record_watch(plugins).items and signer is not None

    def test_read_state_refuses_an_unsigned_state_unless_allowed(self, plugins, tmp_path) -> None:
        """A daemon's `read_state` fails closed as `watch check` does: an attacker's rewritten state is not trusted."""
        path = self.write(plugins, tmp_path / "state.json", None)
        with pytest.raises(TrustPolicyError, match="name the minisign public key"):
            watch.read_state(path)
        state, signer = watch.read_state(path, allow_unsigned=True)
        assert state.items == record_watch(plugins).items and signer is None

    def test_read_state_refuses_an_edited_signed_state(self, plugins, tmp_path, key_pair) -> None:
        path = self.write(plugins, tmp_path / "state.json", key_pair.secret_key)
        path.write_bytes(path.read_bytes().replace(b'"agents.toml"', b'"agentz.toml"'))
        with pytest.raises(SignatureError, match="does not verify"):
            watch.read_state(path, public_key=MinisignKeyring([key_pair.public_key]))

    def test_an_edited_signed_state_is_refused(self, plugins, tmp_path, key_pair) -> None:
        path = self.write(plugins, tmp_path / "state.json", key_pair.secret_key)
        path.write_bytes(path.read_bytes().replace(b'"agents.toml"', b'"agentz.toml"'))
        with pytest.raises(SignatureError, match="does not verify"):
            read_document(path, Role.WATCH_STATE, public_key=MinisignKeyring([key_pair.public_key]))

    def test_a_state_signed_by_another_key_is_refused(self, plugins, tmp_path, key_pair, other_key_pair) -> None:
        path = self.write(plugins, tmp_path / "state.json", other_key_pair.secret_key)
        with pytest.raises(SignatureError, match="not trusted"):
            read_document(path, Role.WATCH_STATE, public_key=MinisignKeyring([key_pair.public_key]))

    def test_a_signature_made_for_another_role_is_refused(self, plugins, tmp_path, key_pair) -> None:
        path = tmp_path / "state.json"
        write_document(
            path,
            watch.write_state(record_watch(plugins)),
            Role.SELF_RECORD,
            secret_key=key_pair.secret_key,
            description="x",
        )
        with pytest.raises(SignatureError, match="not a watch-state"):
            read_document(path, Role.WATCH_STATE, public_key=MinisignKeyring([key_pair.public_key]))

    def test_a_missing_signature_is_refused_when_a_key_is_given(self, plugins, tmp_path, key_pair) -> None:
        path = self.write(plugins, tmp_path / "state.json", None)
        with pytest.raises(SignatureError, match="missing"):
            read_document(path, Role.WATCH_STATE, public_key=MinisignKeyring([key_pair.public_key]))

    def test_a_signed_state_is_never_read_as_unsigned(self, plugins, tmp_path, key_pair) -> None:
        path = self.write(plugins, tmp_path / "state.json", key_pair.secret_key)
        with pytest.raises(TrustPolicyError, match="is signed"):
            read_document(path, Role.WATCH_STATE, public_key=None, allow_unsigned=True)

    def test_no_key_and_no_permission_for_unsigned_is_asked_wrongly(self, plugins, tmp_path) -> None:
        path = self.write(plugins, tmp_path / "state.json", None)
        with pytest.raises(TrustPolicyError, match="public key"):
            read_document(path, Role.WATCH_STATE, public_key=None)
