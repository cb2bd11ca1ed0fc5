"""Packs in two signed versions, for the install tests (library and command line)."""

import os
from pathlib import Path

import minisign

from signing.sign import sign_with_minisign

OLD_PACK = {"README.md": b"# pack v1\n", "bin/run": (b"#!/bin/sh\necho v1\n", 0o755), "docs/latest.md": "../README.md"}
NEW_PACK = {"README.md": b"# pack v2\n", "bin/run": (b"#!/bin/sh\necho v2\n", 0o755), "lib/extra.txt": b"new\n"}


def write_tree(root: Path, spec: dict) -> Path:
    """Bytes are a file (mode 0644), (bytes, mode) a file, str a symlink target."""
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


def signed_pack(root: Path, spec: dict, key_pair: minisign.KeyPair) -> Path:
    """A directory pack at `root` (its name is the bundle name), signed into its `.packseal/`."""
    write_tree(root, spec)
    sign_with_minisign(root, key_pair.secret_key, trusted_comment=root.name)
    return root
