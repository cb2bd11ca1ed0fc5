"""Pytest fixtures: session-wide local Sigstore instances on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sigstore_local.instance import SigstoreInstance, running_instance


@pytest.fixture(scope="session")
def sigstore_instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SigstoreInstance]:
    """The local Sigstore most tests sign and verify against."""
    with running_instance(tmp_path_factory.mktemp("sigstore")) as instance:
        yield instance


@pytest.fixture(scope="session")
def other_sigstore_instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SigstoreInstance]:
    """An instance with its own CA, CT, Rekor and issuer keys, for "signed elsewhere" tests."""
    with running_instance(tmp_path_factory.mktemp("other-sigstore")) as instance:
        yield instance
