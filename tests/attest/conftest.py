"""Fixtures for the `attest` unit tests: small manifests and their Statements."""

import pytest

from attest.manifest import FileEntry, Manifest, SymlinkEntry, manifest_statement

DIGEST_A = "a" * 64
DIGEST_B = "b" * 64


@pytest.fixture
def file_entry():
    """Build a `FileEntry`, with defaults for every field a test does not care about."""

    def make(path: str = "a.txt", sha256: str = DIGEST_A, size: int = 1, executable: bool = False) -> FileEntry:
        return FileEntry(path=path, sha256=sha256, size=size, executable=executable)

    return make


@pytest.fixture
def sample_manifest() -> Manifest:
    """A file, an executable in a subdirectory, and a link between them."""
    return Manifest.from_entries(
        [
            FileEntry(path="README.md", sha256=DIGEST_A, size=12, executable=False),
            FileEntry(path="bin/run", sha256=DIGEST_B, size=300, executable=True),
            SymlinkEntry(path="docs/run", target="../bin/run"),
        ]
    )


@pytest.fixture
def sample_statement_bytes(sample_manifest: Manifest) -> bytes:
    """The canonical bytes of `sample_manifest` as a signed bundle Statement."""
    return manifest_statement("bundle", sample_manifest).to_bytes()
