"""Where a bundle's signatures live, as ARCHITECTURE.md fixes it.

A directory keeps them in `.packseal/`, which is not part of its manifest;
so nothing may hide there: any name not listed here, and anything that is
not a regular file, is refused at verification. A single file keeps them
beside it, named as the stock tools name them (`X.minisig`,
`X.sigstore.json`), so those tools verify it without packseal.
"""

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from attest.manifest import SIGNATURE_DIR

MANIFEST_NAME = "manifest.json"
PROVENANCE_NAME = "provenance.json"
MINISIGN_SUFFIX = ".minisig"
SIGSTORE_SUFFIX = ".sigstore.json"

KNOWN_SIGNATURE_DIR_FILES = frozenset(
    {
        MANIFEST_NAME,
        MANIFEST_NAME + MINISIGN_SUFFIX,
        "manifest" + SIGSTORE_SUFFIX,
        PROVENANCE_NAME,
        PROVENANCE_NAME + MINISIGN_SUFFIX,
        "provenance" + SIGSTORE_SUFFIX,
    }
)


@dataclass(frozen=True)
class DirectoryLayout:
    """The signature files of a directory bundle."""

    root: Path

    @property
    def signature_dir(self) -> Path:
        return self.root / SIGNATURE_DIR

    @property
    def manifest(self) -> Path:
        return self.signature_dir / MANIFEST_NAME

    @property
    def manifest_minisig(self) -> Path:
        return self.signature_dir / (MANIFEST_NAME + MINISIGN_SUFFIX)

    @property
    def manifest_sigstore(self) -> Path:
        return self.signature_dir / ("manifest" + SIGSTORE_SUFFIX)

    def manifest_signatures(self) -> set[Path]:
        """Every signature file over `manifest.json`, one per signing system."""
        return {self.manifest_minisig, self.manifest_sigstore}

    def unexpected_entries(self) -> list[str]:
        """What `.packseal/` holds beyond the known regular files, as one line each."""
        try:
            mode = self.signature_dir.lstat().st_mode
        except FileNotFoundError:
            return [f"{SIGNATURE_DIR}/ is missing: the bundle is not signed"]
        if not stat.S_ISDIR(mode):
            return [f"{SIGNATURE_DIR} is not a directory"]
        problems = []
        for entry in sorted(os.scandir(self.signature_dir), key=lambda e: e.name):
            where = f"{SIGNATURE_DIR}/{entry.name}"
            if entry.name not in KNOWN_SIGNATURE_DIR_FILES:
                problems.append(f"unexpected entry: {where}")
            elif not entry.is_file(follow_symlinks=False):
                problems.append(f"not a regular file: {where}")
        return problems


@dataclass(frozen=True)
class FileLayout:
    """The signature files beside a single-file bundle."""

    path: Path

    @property
    def minisig(self) -> Path:
        return self.path.with_name(self.path.name + MINISIGN_SUFFIX)

    @property
    def sigstore(self) -> Path:
        return self.path.with_name(self.path.name + SIGSTORE_SUFFIX)
