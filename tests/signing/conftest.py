"""Fixtures for the `signing` unit tests: trees on disk, throwaway keys, signed bundles."""

from pathlib import Path

import minisign
import pytest
from https_server import https_server
from installs import write_tree

from signing.backends.minisign import MinisignKeyring
from signing.policy import TrustPolicy
from signing.sign import sign_with_minisign

SAMPLE_TREE = {
    "README.md": b"# pack\n",
    "bin/run": (b"#!/bin/sh\necho hi\n", 0o755),
    "docs/guide.md": b"Read me.\n",
    "docs/latest.md": "guide.md",
    "data/nested/blob.bin": bytes(range(256)),
    "empty.txt": b"",
}


@pytest.fixture
def make_tree():
    """Write a tree below `root`: bytes are a file (mode 0644), (bytes, mode) a file, str a symlink target."""
    return write_tree


@pytest.fixture
def packseal_home(tmp_path, monkeypatch) -> Path:
    """Where installs append their audit log (`PACKSEAL_HOME`): below the test's tmp_path, never the real HOME."""
    home = tmp_path / "packseal-home"
    monkeypatch.setenv("PACKSEAL_HOME", str(home))
    return home


@pytest.fixture
def dest(tmp_path) -> Path:
    """An empty install directory."""
    path = tmp_path / "plugins"
    path.mkdir()
    return path


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A real HTTPS server on 127.0.0.1 whose CA `requests` trusts (`REQUESTS_CA_BUNDLE`), and nothing else."""
    with https_server(tmp_path) as server:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_file))
        monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
        yield server


@pytest.fixture(scope="session")
def key_pair() -> minisign.KeyPair:
    return minisign.KeyPair.generate()


@pytest.fixture(scope="session")
def other_key_pair() -> minisign.KeyPair:
    return minisign.KeyPair.generate()


@pytest.fixture
def policy(key_pair) -> TrustPolicy:
    return TrustPolicy((MinisignKeyring([key_pair.public_key]),))


@pytest.fixture
def signed_bundle(tmp_path, make_tree, key_pair) -> Path:
    """SAMPLE_TREE, signed with `key_pair` into its `.packseal/`."""
    root = make_tree(tmp_path / "pack", SAMPLE_TREE)
    sign_with_minisign(root, key_pair.secret_key, trusted_comment="test pack")
    return root
