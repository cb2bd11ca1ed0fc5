"""Fixtures for the `signing` unit tests: trees on disk, throwaway keys, signed bundles."""

import os
from pathlib import Path

import minisign
import pytest

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

    def make(root: Path, spec: dict) -> Path:
        root.mkdir(parents=True, exist_ok=True)
        for relative, content in spec.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, str):
                os.symlink(content, path)
                continue
            data, mode = content if isinstance(content, tuple) else (content, 0o644)
            path.write_bytes(data)
            path.chmod(mode)
        return root

    return make


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
