"""Shared fixtures for the packseal test suite."""

import shutil
from collections.abc import Iterator

import pytest
from key_derivation import cheap_key_derivation

pytest_plugins = ["sigstore_local.plugin"]


def pytest_sessionstart(session: pytest.Session) -> None:
    """Without stock minisign, the interop tests cannot run: say so in one line, before dozens fail."""
    if shutil.which("minisign") is None:
        pytest.exit(
            "stock minisign is not installed: run `sudo apt-get install minisign` (Debian), "
            "or run the tests with scripts/test, which installs it",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )


@pytest.fixture(scope="session", autouse=True)
def cheap_scrypt() -> Iterator[None]:
    """Every key this process encrypts costs milliseconds to unlock (see key_derivation.py).

    A test of the stock cost itself uses `key_derivation.stock_key_derivation`.
    """
    with cheap_key_derivation():
        yield
